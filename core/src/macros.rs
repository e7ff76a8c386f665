//! The `host_fn!` macro: a host function whose typed arguments and result are decoded from
//! and encoded to kernel blocks.

/// Defines a host function with typed arguments and result, as in the official `extism`
/// crate.
///
/// Each argument is a block handle the guest passes; it is decoded with
/// [`FromBytes`](crate::FromBytes) (`String`, `Vec<u8>`, `Json<T>`, integers, ...). The
/// result is encoded with [`ToBytes`](crate::ToBytes) into a new block whose handle the
/// guest gets back. The body returns `Result<T, Error>` (`anyhow::Error`, as in the official crate); `user_data` is the
/// [`UserData`](crate::UserData) given to [`Function::new`](crate::Function::new).
///
/// ```
/// use xtism_core::{host_fn, Function, UserData, PTR};
///
/// host_fn!(greet(user_data: String; name: String) -> String {
///     let greeting = user_data.get()?;
///     let greeting = greeting.lock().unwrap();
///     Ok(format!("{greeting}, {name}"))
/// });
///
/// let f = Function::new("greet", [PTR], [PTR], UserData::new("Hello".to_string()), greet);
/// assert_eq!(f.name(), "greet");
/// ```
///
/// With `async` first, it defines an async host function for
/// [`Function::new_async`](crate::Function::new_async): the arguments are decoded before the
/// body runs and the result encoded after it, and the body may `.await`. Arguments are
/// owned types (`String`, `Vec<u8>`, `Json<T>`, ...), since the body runs after the
/// plug-in's memory is lent back.
///
/// ```
/// use xtism_core::{host_fn, Function, UserData, PTR};
///
/// host_fn!(async slow_greet(name: String) -> String {
///     // An await on a timer or a socket would go here.
///     Ok(format!("Hello, {name}"))
/// });
///
/// let f = Function::new_async("greet", [PTR], [PTR], UserData::new(()), slow_greet);
/// assert!(f.is_async());
/// ```
#[macro_export]
macro_rules! host_fn {
    (async $vis:vis $name:ident ($user_data:ident : $data:ty; $($arg:ident : $argty:ty),* $(,)?) $(-> $ret:ty)? $body:block) => {
        $vis fn $name(
            plugin: $crate::AsyncCurrentPlugin,
            inputs: ::std::vec::Vec<$crate::Val>,
            $user_data: $crate::UserData<$data>,
        ) -> impl ::std::future::Future<
            Output = ::std::result::Result<::std::vec::Vec<$crate::Val>, $crate::Error>,
        > + ::std::marker::Send + 'static {
            async move {
                #[allow(unused_parens)]
                let ($($arg),*): ($($argty),*) = plugin.with(|plugin| {
                    let _kernel = $crate::__host_fn_kernel(plugin);
                    let mut _index = 0usize;
                    $(
                        let $arg: $argty = $crate::__host_fn_arg(_kernel, &inputs, _index)?;
                        _index += 1;
                    )*
                    ::std::result::Result::<_, $crate::Error>::Ok(($($arg),*))
                })??;
                $crate::__host_fn_async_results!(plugin, async move $body $(, $ret)?)
            }
        }
    };
    (async $vis:vis $name:ident ($($arg:ident : $argty:ty),* $(,)?) $(-> $ret:ty)? $body:block) => {
        $crate::host_fn!(async $vis $name(user_data: (); $($arg: $argty),*) $(-> $ret)? $body);
    };
    ($vis:vis $name:ident ($user_data:ident : $data:ty; $($arg:ident : $argty:ty),* $(,)?) -> $ret:ty $body:block) => {
        $vis fn $name(
            plugin: &mut $crate::CurrentPlugin,
            inputs: &[$crate::Val],
            outputs: &mut [$crate::Val],
            $user_data: $crate::UserData<$data>,
        ) -> ::std::result::Result<(), $crate::Error> {
            let result: ::std::result::Result<$ret, $crate::Error> = {
                let _kernel = $crate::__host_fn_kernel(plugin);
                let mut _index = 0usize;
                $(
                    let $arg: $argty = $crate::__host_fn_arg(_kernel, inputs, _index)?;
                    _index += 1;
                )*
                (move || $body)()
            };
            let result = result?;
            match outputs.first_mut() {
                Some(out) => plugin.memory_set_val(out, result),
                None => Err($crate::XtismError::Invalid(
                    "host_fn with a result needs a function declared with one result".into(),
                )
                .into()),
            }
        }
    };
    ($vis:vis $name:ident ($user_data:ident : $data:ty; $($arg:ident : $argty:ty),* $(,)?) $body:block) => {
        $vis fn $name(
            plugin: &mut $crate::CurrentPlugin,
            inputs: &[$crate::Val],
            _outputs: &mut [$crate::Val],
            $user_data: $crate::UserData<$data>,
        ) -> ::std::result::Result<(), $crate::Error> {
            let _kernel = $crate::__host_fn_kernel(plugin);
            let mut _index = 0usize;
            $(
                let $arg: $argty = $crate::__host_fn_arg(_kernel, inputs, _index)?;
                _index += 1;
            )*
            let result: ::std::result::Result<(), $crate::Error> = (move || $body)();
            result
        }
    };
    ($vis:vis $name:ident ($($arg:ident : $argty:ty),* $(,)?) $(-> $ret:ty)? $body:block) => {
        $crate::host_fn!($vis $name(user_data: (); $($arg: $argty),*) $(-> $ret)? $body);
    };
}

/// The results of an async `host_fn!` function: the body's value encoded into a new block
/// (with a result type), or none. Not public API.
#[doc(hidden)]
#[macro_export]
macro_rules! __host_fn_async_results {
    ($plugin:ident, $body:expr, $ret:ty) => {{
        let value: ::std::result::Result<$ret, $crate::Error> = $body.await;
        let value = value?;
        $plugin.with(|plugin| {
            let handle = plugin.memory_new(value)?;
            ::std::result::Result::<_, $crate::Error>::Ok(::std::vec![plugin.memory_to_val(handle)])
        })?
    }};
    ($plugin:ident, $body:expr) => {{
        let value: ::std::result::Result<(), $crate::Error> = $body.await;
        value?;
        ::std::result::Result::Ok(::std::vec::Vec::new())
    }};
}

/// The kernel memory and state, shared by every argument of a `host_fn!` function so that
/// borrowed arguments (`&str`, `&[u8]`) can sit side by side. Not public API.
#[doc(hidden)]
pub fn __host_fn_kernel<'a>(
    plugin: &'a mut crate::CurrentPlugin,
) -> (&'a [u8], &'a crate::engine::PluginState) {
    plugin.kernel_and_state()
}

/// Decodes argument `index` of a `host_fn!` function from the block its handle names. Not
/// public API.
#[doc(hidden)]
pub fn __host_fn_arg<'a, T: crate::FromBytes<'a>>(
    (memory, state): (&'a [u8], &'a crate::engine::PluginState),
    inputs: &[crate::Val],
    index: usize,
) -> Result<T, crate::Error> {
    let val = inputs.get(index).ok_or_else(|| {
        crate::XtismError::Invalid(format!("host_fn argument {index} was not passed"))
    })?;
    let bytes = match val {
        crate::Val::I64(offset) => crate::abi::block(memory, state, *offset as u64),
        _ => None,
    };
    let bytes = bytes.ok_or_else(|| {
        crate::XtismError::Guest(format!(
            "host_fn argument {index} ({val:?}) is not a block handle"
        ))
    })?;
    Ok(T::from_bytes(bytes).map_err(crate::function::guest_bytes)?)
}
