//! Host functions written in C: `ExtismFunction`, the typed values they exchange, and the
//! wrapper that turns a C callback into an xtism [`Function`].

use std::cell::RefCell;
use std::ffi::{c_char, c_void};
use std::sync::{Mutex, PoisonError};

use xtism::{CurrentPlugin, Error, Function, UserData, Val, ValType, XtismError};

use crate::ffi::{guard, str_arg};

/// `ExtismValType` as C stores it (an `int`-sized enum); read without trusting it.
type RawValType = u32;

const I32: RawValType = 0;
const I64: RawValType = 1;
const F32: RawValType = 2;
const F64: RawValType = 3;
const V128: RawValType = 4;
const FUNC_REF: RawValType = 5;
const EXTERN_REF: RawValType = 6;

/// `ExtismValUnion`.
#[repr(C)]
#[derive(Clone, Copy)]
pub union ExtismValUnion {
    i32: i32,
    i64: i64,
    f32: f32,
    f64: f64,
}

/// `ExtismVal`: a type tag and a value. The tag is kept as an integer, since a C callback can
/// write anything there.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct ExtismVal {
    t: RawValType,
    v: ExtismValUnion,
}

impl ExtismVal {
    fn from_val(val: &Val) -> ExtismVal {
        let (t, v) = match *val {
            Val::I32(i32) => (I32, ExtismValUnion { i32 }),
            Val::I64(i64) => (I64, ExtismValUnion { i64 }),
            Val::F32(bits) => (
                F32,
                ExtismValUnion {
                    f32: f32::from_bits(bits),
                },
            ),
            Val::F64(bits) => (
                F64,
                ExtismValUnion {
                    f64: f64::from_bits(bits),
                },
            ),
            // Host functions declared through C take none of these (see `val_type`).
            Val::V128(_) => (V128, ExtismValUnion { i64: 0 }),
            Val::FuncRef => (FUNC_REF, ExtismValUnion { i64: 0 }),
            Val::ExternRef => (EXTERN_REF, ExtismValUnion { i64: 0 }),
        };
        ExtismVal { t, v }
    }

    /// The value a callback left here, if it kept the type `ty` asks for.
    fn to_val(self, ty: ValType) -> Option<Val> {
        // SAFETY: every field of the union is plain data of at most 8 bytes, and the union
        // was initialised in full (from an `i64` or a whole value) before the callback ran.
        unsafe {
            match (self.t, ty) {
                (I32, ValType::I32) => Some(Val::I32(self.v.i32)),
                (I64, ValType::I64) => Some(Val::I64(self.v.i64)),
                (F32, ValType::F32) => Some(Val::F32(self.v.f32.to_bits())),
                (F64, ValType::F64) => Some(Val::F64(self.v.f64.to_bits())),
                _ => None,
            }
        }
    }

    /// A zeroed result of type `ty`.
    fn zero(ty: ValType) -> ExtismVal {
        let mut val = ExtismVal::from_val(&Val::default_for(ty));
        val.v = ExtismValUnion { i64: 0 };
        val
    }
}

/// The type a C caller named, if host functions can take it.
fn val_type(raw: RawValType) -> Option<ValType> {
    match raw {
        I32 => Some(ValType::I32),
        I64 => Some(ValType::I64),
        F32 => Some(ValType::F32),
        F64 => Some(ValType::F64),
        _ => None,
    }
}

/// `ExtismFunctionType`.
pub type ExtismFunctionType = unsafe extern "C" fn(
    plugin: *mut ExtismCurrentPlugin,
    inputs: *const ExtismVal,
    n_inputs: u64,
    outputs: *mut ExtismVal,
    n_outputs: u64,
    data: *mut c_void,
);

/// `ExtismCurrentPlugin`: opaque to C; the pointer is a [`CurrentPlugin`], valid during one
/// host call.
pub enum ExtismCurrentPlugin {}

impl ExtismCurrentPlugin {
    /// The plug-in behind a pointer C handed back, or `None` for NULL.
    ///
    /// # Safety
    ///
    /// `ptr` is NULL or the pointer a host function received, during that call.
    pub(crate) unsafe fn get<'a>(
        ptr: *mut ExtismCurrentPlugin,
    ) -> Option<&'a mut CurrentPlugin<'a>> {
        // SAFETY: per the contract, a live `CurrentPlugin` (see `call_c`).
        unsafe { ptr.cast::<CurrentPlugin<'a>>().as_mut() }
    }
}

/// The user data of a C host function and the callback that frees it, run when the last
/// plug-in or handle using the function is gone.
struct CUserData {
    data: *mut c_void,
    free: Option<unsafe extern "C" fn(*mut c_void)>,
}

// SAFETY: the pointer is the C caller's; as with libextism, the caller vouches that its user
// data may be used from the threads it calls plug-ins on.
unsafe impl Send for CUserData {}
// SAFETY: as above.
unsafe impl Sync for CUserData {}

impl Drop for CUserData {
    fn drop(&mut self) {
        if let Some(free) = self.free {
            // SAFETY: the caller gave this callback for this pointer.
            guard((), || unsafe { free(self.data) });
        }
    }
}

thread_local! {
    /// The entry points a host function running on this thread called on the plug-in that
    /// is running it (and that were refused); reported as the host function's error.
    static REENTRY: RefCell<Option<&'static str>> = const { RefCell::new(None) };
}

/// Notes that `entry` was refused because a host function called it on the plug-in running
/// it.
pub(crate) fn refuse_reentry(entry: &'static str) {
    REENTRY.with(|r| *r.borrow_mut() = Some(entry));
}

/// Calls the C callback for one guest call of the function `name`.
fn call_c(
    name: &str,
    func: ExtismFunctionType,
    user: &CUserData,
    plugin: &mut CurrentPlugin,
    inputs: &[Val],
    outputs: &mut [Val],
) -> Result<(), Error> {
    let args: Vec<ExtismVal> = inputs.iter().map(ExtismVal::from_val).collect();
    let mut results: Vec<ExtismVal> = outputs.iter().map(|v| ExtismVal::zero(v.ty())).collect();
    let (args_ptr, results_ptr) = (
        if args.is_empty() {
            std::ptr::null()
        } else {
            args.as_ptr()
        },
        if results.is_empty() {
            std::ptr::null_mut()
        } else {
            results.as_mut_ptr()
        },
    );
    let current: *mut CurrentPlugin = plugin;
    let outer = REENTRY.with(|r| r.borrow_mut().take());
    // SAFETY: the pointers are valid for the lengths given during the call, `current` lives
    // through it, and the callback is the caller's for this user data.
    unsafe {
        func(
            current.cast(),
            args_ptr,
            args.len() as u64,
            results_ptr,
            results.len() as u64,
            user.data,
        )
    };
    let refused = REENTRY.with(|r| std::mem::replace(&mut *r.borrow_mut(), outer));
    if let Some(entry) = refused {
        return Err(XtismError::Invalid(format!(
            "host function {name} called {entry} on the plug-in that is running it, which \
             cannot work while the call runs"
        ))
        .into());
    }
    for (i, (result, out)) in results.iter().zip(outputs.iter_mut()).enumerate() {
        let ty = out.ty();
        *out = result.to_val(ty).ok_or_else(|| {
            XtismError::Invalid(format!(
                "host function {name} set result {i} to type tag {}, expected {ty}",
                result.t
            ))
        })?;
    }
    Ok(())
}

/// `ExtismFunction`: a host function, shared by every plug-in given it.
pub struct ExtismFunction(Mutex<Function>);

impl ExtismFunction {
    /// The function behind a pointer, or an error naming `index` for NULL.
    ///
    /// # Safety
    ///
    /// `ptr` is NULL or came from `extism_function_new` and was not freed.
    unsafe fn function(ptr: *const ExtismFunction, index: usize) -> Result<Function, String> {
        // SAFETY: per the contract.
        let f = unsafe { ptr.as_ref() }.ok_or_else(|| format!("function {index} is NULL"))?;
        Ok(f.0.lock().unwrap_or_else(PoisonError::into_inner).clone())
    }
}

/// The `n` functions of a C array, for a plug-in to take.
///
/// # Safety
///
/// `functions` is NULL or points to `n` pointers, each NULL or a live `ExtismFunction`.
pub(crate) unsafe fn functions_arg(
    functions: *const *const ExtismFunction,
    n: u64,
) -> Result<Vec<Function>, String> {
    if functions.is_null() || n == 0 {
        return Ok(Vec::new());
    }
    let n = usize::try_from(n)
        .ok()
        .filter(|&n| n <= isize::MAX as usize / std::mem::size_of::<*const ExtismFunction>())
        .ok_or_else(|| format!("{n} functions are more than memory holds"))?;
    // SAFETY: `n` readable pointers, per the contract.
    let ptrs = unsafe { std::slice::from_raw_parts(functions, n) };
    ptrs.iter()
        .enumerate()
        // SAFETY: each pointer is NULL or live, per the contract.
        .map(|(i, &ptr)| unsafe { ExtismFunction::function(ptr, i) })
        .collect()
}

/// The `n` value types at `types`.
///
/// # Safety
///
/// `types` is NULL or points to `n` readable `ExtismValType`s.
unsafe fn types_arg(types: *const RawValType, n: u64) -> Option<Vec<ValType>> {
    if types.is_null() || n == 0 {
        return Some(Vec::new());
    }
    let n = usize::try_from(n)
        .ok()
        .filter(|&n| n <= isize::MAX as usize / std::mem::size_of::<RawValType>())?;
    // SAFETY: `n` readable values, per the contract.
    let raw = unsafe { std::slice::from_raw_parts(types, n) };
    raw.iter().map(|&t| val_type(t)).collect()
}

/// A host function; NULL when the name is NULL or not UTF-8, `func` is NULL or a type is
/// not one host functions take (`I32`, `I64`, `F32`, `F64`).
///
/// # Safety
///
/// `name` is NULL or a NUL-terminated string; `inputs` and `outputs` hold `n_inputs` and
/// `n_outputs` types (or are NULL); `func` and `free_user_data` are NULL or callable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn extism_function_new(
    name: *const c_char,
    inputs: *const RawValType,
    n_inputs: u64,
    outputs: *const RawValType,
    n_outputs: u64,
    func: Option<ExtismFunctionType>,
    user_data: *mut c_void,
    free_user_data: Option<unsafe extern "C" fn(*mut c_void)>,
) -> *mut ExtismFunction {
    guard(std::ptr::null_mut(), || {
        let user = CUserData {
            data: user_data,
            free: free_user_data,
        };
        // SAFETY: per the contract.
        let (name, params, results) = unsafe {
            (
                str_arg(name, "the function name"),
                types_arg(inputs, n_inputs),
                types_arg(outputs, n_outputs),
            )
        };
        let (Ok(name), Some(params), Some(results), Some(func)) = (name, params, results, func)
        else {
            // Not taken: the user data is the caller's to free, as with libextism.
            std::mem::forget(user);
            return std::ptr::null_mut();
        };
        let function_name = name.to_owned();
        let function = Function::new(
            name,
            params,
            results,
            UserData::new(()),
            move |plugin, inputs, outputs, _| {
                call_c(&function_name, func, &user, plugin, inputs, outputs)
            },
        );
        Box::into_raw(Box::new(ExtismFunction(Mutex::new(function))))
    })
}

/// Frees a function; plug-ins given it keep their own reference.
///
/// # Safety
///
/// `f` is NULL or came from `extism_function_new` and was not freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn extism_function_free(f: *mut ExtismFunction) {
    guard((), || {
        if !f.is_null() {
            // SAFETY: made by `Box::into_raw` in `extism_function_new`, per the contract.
            drop(unsafe { Box::from_raw(f) });
        }
    })
}

/// Sets the import namespace of a function, for the plug-ins given it from now on. A NULL
/// or non-UTF-8 namespace is ignored.
///
/// # Safety
///
/// `ptr` is NULL or a live function; `namespace_` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn extism_function_set_namespace(
    ptr: *mut ExtismFunction,
    namespace_: *const c_char,
) {
    guard((), || {
        // SAFETY: per the contract.
        let (f, namespace) = unsafe { (ptr.as_ref(), str_arg(namespace_, "the namespace")) };
        if let (Some(f), Ok(namespace)) = (f, namespace) {
            f.0.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .set_namespace(namespace);
        }
    })
}
