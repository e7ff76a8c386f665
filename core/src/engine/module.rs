//! A module compiled by a backend, as core sees it: its [`Import`]s and [`Export`]s with
//! their [`ExternKind`], behind the [`Module`] trait; [`CompiledModule`] is the one
//! implementation, wrapping a backend's own module type.

use std::any::Any;

use super::values::FuncType;

/// What an import or export is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExternKind {
    /// A function with its signature.
    Func(FuncType),
    /// A linear memory.
    Memory,
    /// A table.
    Table,
    /// A global.
    Global,
}

impl std::fmt::Display for ExternKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExternKind::Func(ty) => ty.fmt(f),
            ExternKind::Memory => f.write_str("memory"),
            ExternKind::Table => f.write_str("table"),
            ExternKind::Global => f.write_str("global"),
        }
    }
}

/// One import of a module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Import {
    /// Import module (namespace).
    pub module: String,
    /// Import field name.
    pub name: String,
    /// What is imported.
    pub kind: ExternKind,
}

/// One export of a module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Export {
    /// Export name.
    pub name: String,
    /// What is exported.
    pub kind: ExternKind,
}

impl Import {
    /// The import `module::name`, of `kind`.
    pub fn new(module: &str, name: &str, kind: ExternKind) -> Import {
        Import {
            module: module.to_owned(),
            name: name.to_owned(),
            kind,
        }
    }
}

impl Export {
    /// The export `name`, of `kind`.
    pub fn new(name: &str, kind: ExternKind) -> Export {
        Export {
            name: name.to_owned(),
            kind,
        }
    }
}

/// A module compiled by a backend.
pub trait Module: Send + Sync + Any {
    /// The imports, in the module's order.
    fn imports(&self) -> &[Import];
    /// The exports.
    fn exports(&self) -> &[Export];
    /// For the backend to get its own type back.
    fn as_any(&self) -> &dyn Any;
}

/// A backend's compiled module `M` with its imports and exports in core's terms: the one
/// [`Module`] implementation, so a backend only supplies its own module type.
pub struct CompiledModule<M> {
    /// The backend's compiled module.
    pub inner: M,
    imports: Vec<Import>,
    exports: Vec<Export>,
}

impl<M> CompiledModule<M> {
    /// Wraps a backend's module with its imports (in the module's order) and exports.
    pub fn new(inner: M, imports: Vec<Import>, exports: Vec<Export>) -> Self {
        CompiledModule {
            inner,
            imports,
            exports,
        }
    }

    /// The backend's own module inside `module`, when the same backend made it.
    pub fn downcast(module: &dyn Module) -> Option<&M>
    where
        M: 'static,
    {
        module
            .as_any()
            .downcast_ref::<CompiledModule<M>>()
            .map(|m| &m.inner)
    }
}

impl<M: Send + Sync + 'static> Module for CompiledModule<M> {
    fn imports(&self) -> &[Import] {
        &self.imports
    }

    fn exports(&self) -> &[Export] {
        &self.exports
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
