//! Conversions between Rust values and the bytes of plug-in input, output and blocks: the
//! official [`extism-convert`](https://crates.io/crates/extism-convert) crate, re-exported
//! whole, as the official `extism` crate re-exports it as `extism::convert`.
//!
//! What converts and how (the types, their byte layouts, the error texts) is that crate's,
//! so values travel through xtism as through the official runtime: [`ToBytes`] makes a
//! call's input or a new block, [`FromBytes`] reads a call's output or a block (borrowing
//! it for `&str`, `&[u8]` and `Raw`), numbers are little-endian, and a conversion fails
//! with an [`anyhow::Error`], which is xtism's `Error` too.
//!
//! [`Json`] and [`Base64`] are always here; the other encodings follow this crate's
//! features, each turning on the crate's own: `msgpack` (`Msgpack`, rmp-serde), `prost`
//! (`Prost`), `protobuf` (`Protobuf`, rust-protobuf) and `raw` (`Raw`, bytemuck). The
//! `xtism` facade turns on all but `protobuf` by default, as the official crate does.
//! [`encoding!`] makes an encoding from a pair of functions, and
//! `#[derive(ToBytes, FromBytes)]` with `#[encoding(Json)]` converts a type through one.
//! The derives write the crate's path into the deriving crate: `::extism_convert` when it
//! depends on `extism-convert`, else `::extism::convert` (xtism turns on the
//! crate's `extism-path` feature, as the official crate does, so a dependency renamed
//! `extism = { package = "xtism", .. }` serves). The README's "Porting from the official
//! crate" says more.

#[doc(inline)]
pub use extism_convert::*;
