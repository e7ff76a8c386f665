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
#[macro_export]
macro_rules! host_fn {
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
