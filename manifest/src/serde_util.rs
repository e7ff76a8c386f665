//! Small serde helpers shared by the manifest types: `null` handling and the
//! base64-or-byte-array encoding of inline Wasm data.

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde::de::{self, Deserialize, Deserializer, SeqAccess, Visitor};

/// Standard base64 alphabet, padding optional when decoding.
const BASE64_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Encodes bytes as standard, padded base64 (the form written by serialization).
pub(crate) fn encode_base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Decodes standard base64, with or without padding, ignoring ASCII whitespace
/// (so line-wrapped output of base64 tools is accepted).
pub(crate) fn decode_base64(text: &str) -> Result<Vec<u8>, base64::DecodeError> {
    if text.bytes().any(|b| b.is_ascii_whitespace()) {
        let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        BASE64_LENIENT.decode(compact)
    } else {
        BASE64_LENIENT.decode(text)
    }
}

/// Deserializes an optional value, mapping `null` (or absence, together with
/// `#[serde(default)]`) to `T::default()`.
pub(crate) fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// Deserializes a string map whose values may be `null`; `null` values are
/// dropped (some SDKs write `null` for "unset").
pub(crate) fn string_map_skip_nulls<'de, D>(
    deserializer: D,
) -> Result<BTreeMap<String, String>, D::Error>
where
    D: Deserializer<'de>,
{
    let map = Option::<BTreeMap<String, Option<String>>>::deserialize(deserializer)?;
    Ok(map
        .unwrap_or_default()
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k, v)))
        .collect())
}

/// Inline Wasm bytes as found in a manifest: a base64 string or an array of
/// byte values (or native bytes in binary formats).
pub(crate) struct DataBytes(pub(crate) Vec<u8>);

impl<'de> Deserialize<'de> for DataBytes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DataVisitor;

        impl<'de> Visitor<'de> for DataVisitor {
            type Value = DataBytes;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a base64 string or an array of bytes")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<DataBytes, E> {
                decode_base64(v)
                    .map(DataBytes)
                    .map_err(|e| E::custom(format_args!("invalid base64 in `data`: {e}")))
            }

            fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<DataBytes, E> {
                Ok(DataBytes(v.to_vec()))
            }

            fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<DataBytes, E> {
                Ok(DataBytes(v))
            }

            // The official runtime also reads `{"ptr": .., "len": ..}`, an address in the
            // host's own memory. A manifest may come from anywhere, so it never names host
            // memory here (the README's differences).
            fn visit_map<A: de::MapAccess<'de>>(self, _map: A) -> Result<DataBytes, A::Error> {
                Err(de::Error::custom(
                    "`data` is an object (the official runtime's {\"ptr\", \"len\"}, a host \
                     memory address), which xtism does not read from a manifest: give the bytes \
                     as a base64 string or an array",
                ))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<DataBytes, A::Error> {
                let mut bytes = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1 << 20));
                while let Some(b) = seq.next_element::<u8>()? {
                    bytes.push(b);
                }
                Ok(DataBytes(bytes))
            }
        }

        deserializer.deserialize_any(DataVisitor)
    }
}
