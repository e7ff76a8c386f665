//! User host functions as the engine layer sees them: a [`Function`] is a name, a signature
//! and a callback over [`HostAccess`], which a backend binds with its dynamic function API
//! ([`DynamicInvoke`]) and runs through [`Function::invoke_converted`].
//!
//! The callback is a trait object so that this layer needs nothing of what stands above it:
//! `function` builds it from the user's closure over a `CurrentPlugin`, and adds the
//! constructors and the import namespace.

use std::sync::Arc;

use super::host_access::{HostAccess, HostTrap};
use super::values::{FuncType, Val};
use crate::error::XtismError;

/// How a host function runs on the host access: the arguments, and the results to fill in.
/// `function` makes it from the user's closure.
pub(crate) type HostCallback =
    dyn Fn(&mut dyn HostAccess, &[Val], &mut [Val]) -> Result<(), XtismError> + Send + Sync;

/// A host function a plug-in can import.
#[derive(Clone)]
pub struct Function {
    pub(crate) name: String,
    pub(crate) namespace: Option<String>,
    pub(crate) ty: FuncType,
    pub(crate) callback: Arc<HostCallback>,
}

impl Function {
    /// The signature.
    pub fn ty(&self) -> &FuncType {
        &self.ty
    }

    /// Runs the function for a guest call on arguments a backend converted from its engine's
    /// values, and returns the results for the backend to convert back. A failed conversion
    /// fails the call like any error of the function.
    pub fn invoke_converted(
        &self,
        host: &mut dyn HostAccess,
        params: impl IntoIterator<Item = Result<Val, XtismError>>,
    ) -> Result<Vec<Val>, HostTrap> {
        let inputs = match params.into_iter().collect::<Result<Vec<Val>, XtismError>>() {
            Ok(inputs) => inputs,
            Err(e) => return Err(host.state().fail(e)),
        };
        let mut outputs: Vec<Val> = self
            .ty
            .results()
            .iter()
            .map(|t| Val::default_for(*t))
            .collect();
        self.invoke(host, &inputs, &mut outputs)?;
        Ok(outputs)
    }

    /// Runs the function for a guest call. Backends call this; on failure the error is kept
    /// in the plug-in state and the backend traps with the returned [`HostTrap`].
    pub fn invoke(
        &self,
        host: &mut dyn HostAccess,
        params: &[Val],
        results: &mut [Val],
    ) -> Result<(), HostTrap> {
        let outcome = (self.callback)(host, params, results);
        let outcome = outcome.and_then(|()| {
            // The call stops as soon as the host function returns, on every engine.
            if let Some(stop) = host.state().interruption() {
                return Err(stop);
            }
            match results
                .iter()
                .zip(self.ty.results())
                .find(|(v, ty)| v.ty() != **ty)
            {
                Some((v, ty)) => Err(XtismError::Invalid(format!(
                    "returned a {} result where its signature declares {ty}",
                    v.ty()
                ))),
                None => Ok(()),
            }
        });
        outcome.map_err(|e| {
            let e = match e {
                XtismError::Host { function, source } if function.is_empty() => XtismError::Host {
                    function: self.name.clone(),
                    source,
                },
                XtismError::Invalid(message) => XtismError::Host {
                    function: self.name.clone(),
                    source: crate::error::Error::msg(message),
                },
                XtismError::Guest(message) => {
                    XtismError::Guest(format!("host function {}: {message}", self.name))
                }
                other => other,
            };
            host.state().fail(e)
        })
    }
}

/// How a backend's dynamically bound import (a user host function, a WASI function) runs:
/// on the host access and the arguments converted from the engine's values, giving back the
/// results to convert back. Each backend has one dynamic binding helper taking this.
pub trait DynamicInvoke:
    Fn(
        &mut dyn HostAccess,
        &mut dyn Iterator<Item = Result<Val, XtismError>>,
    ) -> Result<Vec<Val>, HostTrap>
    + Send
    + Sync
    + 'static
{
}

impl<F> DynamicInvoke for F where
    F: Fn(
            &mut dyn HostAccess,
            &mut dyn Iterator<Item = Result<Val, XtismError>>,
        ) -> Result<Vec<Val>, HostTrap>
        + Send
        + Sync
        + 'static
{
}
