//! The inputs of the standard rows: made once, the same bytes for every runtime.

/// 1 MiB (1,048,576 bytes).
pub const MIB: usize = 1 << 20;

/// `len` bytes of English-like ASCII text (a sentence repeated), for the vowel counter.
pub fn text(len: usize) -> Vec<u8> {
    const SENTENCE: &[u8] = b"The quick brown fox jumps over the lazy dog; Hello, World! ";
    SENTENCE.iter().copied().cycle().take(len).collect()
}

/// `len` bytes of `a`, the input of the official benchmarks' data rows.
pub fn bytes(len: usize) -> Vec<u8> {
    vec![b'a'; len]
}

/// How many characters of `input` are in `aeiouAEIOU` (the counter's default set).
pub fn vowels(input: &[u8]) -> usize {
    input.iter().filter(|b| b"aeiouAEIOU".contains(b)).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_counts() {
        assert_eq!(text(MIB).len(), MIB);
        assert_eq!(bytes(16), b"aaaaaaaaaaaaaaaa");
        assert_eq!(vowels(b"Hello, World!"), 3);
    }
}
