//! Conversions between Rust values and the bytes of plug-in input, output and blocks.
//!
//! [`ToBytes`] turns a value into bytes for a call's input or a new block; [`FromBytes`]
//! reads a value from a call's output or a block. Numbers are little-endian, as the PDKs
//! write them; [`Json`] wraps any serde type.

use crate::error::Error;
use crate::error::XtismError;

/// A value that can become plug-in input or a block.
pub trait ToBytes<'a> {
    /// The bytes, borrowed where possible.
    type Bytes: AsRef<[u8]>;

    /// Encodes the value.
    fn to_bytes(&self) -> Result<Self::Bytes, Error>;
}

/// A value that can be read from plug-in output or a block, possibly borrowing it.
pub trait FromBytes<'a>: Sized {
    /// Decodes the value.
    fn from_bytes(data: &'a [u8]) -> Result<Self, Error>;
}

/// A [`FromBytes`] that owns its data and so outlives the bytes it came from.
pub trait FromBytesOwned: Sized {
    /// Decodes the value.
    fn from_bytes_owned(data: &[u8]) -> Result<Self, Error>;
}

impl<T: FromBytesOwned> FromBytes<'_> for T {
    fn from_bytes(data: &[u8]) -> Result<Self, Error> {
        T::from_bytes_owned(data)
    }
}

/// A value carried as JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Json<T>(pub T);

impl<T> Json<T> {
    /// The wrapped value.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> From<T> for Json<T> {
    fn from(value: T) -> Self {
        Json(value)
    }
}

impl<'a, T: serde::Serialize> ToBytes<'a> for Json<T> {
    type Bytes = Vec<u8>;

    fn to_bytes(&self) -> Result<Vec<u8>, Error> {
        serde_json::to_vec(&self.0)
            .map_err(|e| XtismError::Invalid(format!("JSON encoding failed: {e}")).into())
    }
}

impl<T: serde::de::DeserializeOwned> FromBytesOwned for Json<T> {
    fn from_bytes_owned(data: &[u8]) -> Result<Self, Error> {
        serde_json::from_slice(data).map(Json).map_err(|e| {
            XtismError::Invalid(format!("output is not the expected JSON: {e}")).into()
        })
    }
}

impl<'a> ToBytes<'a> for &'a [u8] {
    type Bytes = &'a [u8];

    fn to_bytes(&self) -> Result<&'a [u8], Error> {
        Ok(self)
    }
}

impl<'a, const N: usize> ToBytes<'a> for &'a [u8; N] {
    type Bytes = &'a [u8];

    fn to_bytes(&self) -> Result<&'a [u8], Error> {
        Ok(&self[..])
    }
}

impl<'a> ToBytes<'a> for &'a str {
    type Bytes = &'a [u8];

    fn to_bytes(&self) -> Result<&'a [u8], Error> {
        Ok(self.as_bytes())
    }
}

impl<'a> ToBytes<'a> for Vec<u8> {
    type Bytes = Vec<u8>;

    fn to_bytes(&self) -> Result<Vec<u8>, Error> {
        Ok(self.clone())
    }
}

impl<'a> ToBytes<'a> for &'a Vec<u8> {
    type Bytes = &'a [u8];

    fn to_bytes(&self) -> Result<&'a [u8], Error> {
        Ok(self.as_slice())
    }
}

impl<'a> ToBytes<'a> for String {
    type Bytes = String;

    fn to_bytes(&self) -> Result<String, Error> {
        Ok(self.clone())
    }
}

impl<'a> ToBytes<'a> for &'a String {
    type Bytes = &'a [u8];

    fn to_bytes(&self) -> Result<&'a [u8], Error> {
        Ok(self.as_bytes())
    }
}

impl<'a> ToBytes<'a> for () {
    type Bytes = [u8; 0];

    fn to_bytes(&self) -> Result<[u8; 0], Error> {
        Ok([])
    }
}

impl<'a> FromBytes<'a> for &'a [u8] {
    fn from_bytes(data: &'a [u8]) -> Result<Self, Error> {
        Ok(data)
    }
}

impl<'a> FromBytes<'a> for &'a str {
    fn from_bytes(data: &'a [u8]) -> Result<Self, Error> {
        std::str::from_utf8(data).map_err(|e| XtismError::Invalid(format!("not UTF-8: {e}")).into())
    }
}

impl FromBytesOwned for Vec<u8> {
    fn from_bytes_owned(data: &[u8]) -> Result<Self, Error> {
        Ok(data.to_vec())
    }
}

impl FromBytesOwned for String {
    fn from_bytes_owned(data: &[u8]) -> Result<Self, Error> {
        <&str>::from_bytes(data).map(str::to_owned)
    }
}

impl FromBytesOwned for () {
    fn from_bytes_owned(_: &[u8]) -> Result<Self, Error> {
        Ok(())
    }
}

macro_rules! numbers {
    ($($t:ty),*) => {$(
        impl<'a> ToBytes<'a> for $t {
            type Bytes = [u8; std::mem::size_of::<$t>()];

            fn to_bytes(&self) -> Result<Self::Bytes, Error> {
                Ok(self.to_le_bytes())
            }
        }

        impl FromBytesOwned for $t {
            fn from_bytes_owned(data: &[u8]) -> Result<Self, Error> {
                let bytes = data.try_into().map_err(|_| {
                    XtismError::Invalid(format!(
                        "expected {} bytes for {}, got {}",
                        std::mem::size_of::<$t>(),
                        stringify!($t),
                        data.len()
                    ))
                })?;
                Ok(<$t>::from_le_bytes(bytes))
            }
        }
    )*};
}

numbers!(i8, u8, i16, u16, i32, u32, i64, u64, f32, f64);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_little_endian_and_sized() {
        assert_eq!(258u32.to_bytes().unwrap(), [2, 1, 0, 0]);
        assert_eq!(u32::from_bytes(&[2, 1, 0, 0]).unwrap(), 258);
        assert!(
            u64::from_bytes(&[1, 2, 3])
                .unwrap_err()
                .to_string()
                .contains("expected 8 bytes")
        );
    }

    #[test]
    fn json_round_trips() {
        let bytes = Json(vec![1, 2]).to_bytes().unwrap();
        assert_eq!(bytes, b"[1,2]");
        let Json(v): Json<Vec<u8>> = Json::from_bytes(&bytes).unwrap();
        assert_eq!(v, vec![1, 2]);
        assert!(Json::<u8>::from_bytes(b"nope").is_err());
    }

    #[test]
    fn strings_must_be_utf8() {
        assert!(<&str>::from_bytes(&[0xff]).is_err());
        assert_eq!(String::from_bytes(b"hi").unwrap(), "hi");
    }
}
