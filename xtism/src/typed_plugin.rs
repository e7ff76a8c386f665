//! `typed_plugin!`: a plug-in type whose exports are Rust methods, as in the official
//! `extism` crate.

/// Defines a wrapper around [`Plugin`](crate::Plugin) with one method per listed export,
/// taking and returning the given types (any [`ToBytes`](crate::ToBytes) input and
/// [`FromBytes`](crate::FromBytes) output), with the official crate's syntax:
///
/// ```
/// use xtism::*;
///
/// typed_plugin!(pub CountVowels {
///     count_vowels(&str) -> String;
/// });
///
/// // The caller chooses the output type.
/// typed_plugin!(pub CountVowelsAs {
///     count_vowels<T: FromBytes<'a>>(&str) -> T;
/// });
///
/// // The output borrows from the plug-in; the input's lifetime is bounded.
/// typed_plugin!(pub CountVowelsBorrowed {
///     count_vowels<'b: 'a>(&'b str) -> &'a str;
/// });
///
/// # fn main() -> Result<(), Error> {
/// let wasm = std::fs::read(concat!(
///     env!("CARGO_MANIFEST_DIR"),
///     "/../conformance/plugins/as/count_vowels.wasm"
/// ))?;
/// let mut plugin: CountVowels = Plugin::new(&wasm, [], false)?.try_into()?;
/// let out = plugin.count_vowels("Hello, World!")?;
/// assert!(out.starts_with(r#"{"count":3,"#));
/// // The plug-in itself stays reachable as the tuple field.
/// assert!(plugin.0.function_exists("count_vowels"));
///
/// let mut generic: CountVowelsAs = plugin.0.try_into()?;
/// let out: String = generic.count_vowels("aeiou")?;
/// assert!(out.starts_with(r#"{"count":5,"#));
/// let bytes: Vec<u8> = generic.count_vowels("xyz")?;
/// assert!(bytes.starts_with(br#"{"count":0,"#));
///
/// let mut borrowed: CountVowelsBorrowed = generic.0.try_into()?;
/// assert!(borrowed.count_vowels("a")?.starts_with(r#"{"count":1,"#));
/// # Ok(())
/// # }
/// ```
///
/// The output may borrow from the plug-in for `'a`, the lifetime of the method's `&mut self`
/// (`name(&[u8]) -> &'a str;`, valid until the next call). A method may declare generic
/// parameters, each with one bound at most: a type chosen by the caller
/// (`name<T: FromBytes<'a>>(&str) -> T;`, as the official crate's tests write it), or more
/// lifetimes for its input (`name<'b>(&'b [u8]) -> &'a str;`, `name<'b: 'a>(..)`).
///
/// # Errors
///
/// Converting a [`Plugin`](crate::Plugin) with `try_into` fails with
/// [`XtismError::FunctionNotFound`](crate::XtismError::FunctionNotFound) (text
/// `Invalid function: NAME`, as in the official crate) when the plug-in lacks one of the
/// exports; each method returns what [`Plugin::call`](crate::Plugin::call) returns.
#[macro_export]
macro_rules! typed_plugin {
    ($vis:vis $name:ident {
        $($export:ident $(< $($param:tt $(: $bound:path)? $(: $outlives:lifetime)?),+ >)?
            ($input:ty) -> $output:ty);* $(;)?
    }) => {
        $vis struct $name(pub $crate::Plugin);

        impl ::std::convert::TryFrom<$crate::Plugin> for $name {
            type Error = $crate::Error;

            fn try_from(plugin: $crate::Plugin) -> ::std::result::Result<Self, $crate::Error> {
                $(
                    if !plugin.function_exists(stringify!($export)) {
                        return Err($crate::XtismError::FunctionNotFound(format!(
                            "Invalid function: {}",
                            stringify!($export)
                        ))
                        .into());
                    }
                )*
                Ok($name(plugin))
            }
        }

        impl ::std::convert::From<$name> for $crate::Plugin {
            fn from(typed: $name) -> Self {
                typed.0
            }
        }

        impl $name {
            $(
                #[allow(missing_docs)]
                pub fn $export<'a $(, $($param $(: $bound)? $(: $outlives)?),+)?>(
                    &'a mut self,
                    input: $input,
                ) -> ::std::result::Result<$output, $crate::Error> {
                    self.0.call(stringify!($export), input)
                }
            )*
        }
    };
}
