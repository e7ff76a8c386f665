//! [`now_or_never`]: a future's output if it is ready at its first poll, for a backend that
//! runs async machinery where nothing can wait (wasmtime instantiates asynchronously once a
//! store has an async host function, though instantiating runs no guest code).

use std::pin::pin;
use std::task::{Context, Poll, Waker};

/// Polls `future` once, with a waker that does nothing: its output if it is ready, `None`
/// if it would wait.
pub fn now_or_never<F: Future>(future: F) -> Option<F::Output> {
    match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => Some(output),
        Poll::Pending => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ready_future_gives_its_output_and_a_waiting_one_none() {
        assert_eq!(now_or_never(async { 7 }), Some(7));
        assert_eq!(now_or_never(std::future::pending::<u8>()), None);
    }
}
