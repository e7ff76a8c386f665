//! Link planning: where every import of every module of a plug-in comes from (the kernel, a
//! kernel import implemented in core, a user host function, an earlier module, WASI), or
//! why it cannot be linked. The result is the [`LinkPlan`] a backend carries out.

use std::collections::HashMap;
use std::sync::Arc;

use crate::abi::{EXTISM_ENV_MODULE, HOST_IMPORTS, KERNEL_EXPORTS, WASI_MODULE};
use crate::engine::{
    Engine, ExternKind, FuncType, Function, ImportSource, KernelMemory, LinkPlan, Module,
    PlannedModule, ResourceLimits, ValType,
};
use crate::error::XtismError;

/// Decides where every import of every module comes from.
pub(super) fn plan_links(
    modules: &[(String, Arc<dyn Module>)],
    kernel_memory: KernelMemory,
    functions: &[Function],
    wasi: bool,
    engine: &dyn Engine,
) -> Result<LinkPlan, XtismError> {
    if !engine.capabilities().simd
        && let Some(f) = functions.iter().find(|f| {
            f.ty()
                .params()
                .iter()
                .chain(f.ty().results())
                .any(|t| *t == ValType::V128)
        })
    {
        return Err(XtismError::Unsupported {
            engine: engine.name(),
            feature: format!("v128 values, which host function {} uses", f.name()),
        });
    }
    let kernel: HashMap<&str, FuncType> = KERNEL_EXPORTS
        .iter()
        .map(|(name, p, r)| (*name, FuncType::new(p.iter().copied(), r.iter().copied())))
        .collect();
    let mut planned: Vec<PlannedModule> = Vec::with_capacity(modules.len());
    for (name, module) in modules {
        let mut sources = Vec::with_capacity(module.imports().len());
        for import in module.imports() {
            let link_error = |reason: String| XtismError::Link {
                module: import.module.clone(),
                field: import.name.clone(),
                signature: import.kind.to_string(),
                reason,
            };
            let wanted = match &import.kind {
                ExternKind::Func(ty) => Some(ty),
                _ => None,
            };
            let check = |ty: &FuncType| match wanted {
                Some(w) if w == ty => Ok(()),
                _ => Err(link_error(format!("the host provides {ty}"))),
            };
            let source = if import.module == EXTISM_ENV_MODULE {
                if let Some((field, ty)) = kernel.get_key_value(import.name.as_str()) {
                    check(ty)?;
                    // A merge replaces every data-path import it can serve.
                    if kernel_memory == KernelMemory::MainExport {
                        return Err(link_error("the kernel was merged without it".into()));
                    }
                    ImportSource::Kernel(field)
                } else if let Some((_, host)) = HOST_IMPORTS.iter().find(|(n, _)| *n == import.name)
                {
                    check(&host.func_type())?;
                    ImportSource::Host(*host)
                } else {
                    return Err(link_error(format!(
                        "{EXTISM_ENV_MODULE} has no such function"
                    )));
                }
            } else if let Some(index) = functions
                .iter()
                // The last of several functions with one name wins, as in the official
                // runtime (whose linker allows shadowing).
                .rposition(|f| f.import_module() == import.module && f.name() == import.name)
            {
                check(functions[index].ty())?;
                ImportSource::Function(index)
            } else if let Some(index) = planned.iter().position(|m| m.name == import.module) {
                let export = planned[index]
                    .module
                    .exports()
                    .iter()
                    .find(|e| e.name == import.name)
                    .ok_or_else(|| {
                        link_error(format!("module {} has no such export", import.module))
                    })?;
                if export.kind != import.kind {
                    return Err(link_error(format!(
                        "module {} exports it as {}",
                        import.module, export.kind
                    )));
                }
                ImportSource::Module {
                    index,
                    name: import.name.clone(),
                }
            } else if import.module == WASI_MODULE {
                wasi_source(wasi, &import.name, wanted).map_err(link_error)?
            } else {
                return Err(link_error(
                    "no host function or manifest module provides it".into(),
                ));
            };
            sources.push(source);
        }
        planned.push(PlannedModule {
            name: name.clone(),
            module: Arc::clone(module),
            imports: sources,
        });
    }
    Ok(LinkPlan {
        modules: planned,
        kernel_memory,
        functions: functions.to_vec(),
        limits: ResourceLimits::default(),
    })
}

/// Where a WASI import comes from, or why it cannot be linked.
fn wasi_source(wasi: bool, name: &str, wanted: Option<&FuncType>) -> Result<ImportSource, String> {
    if !wasi {
        return Err(
            "the plug-in needs WASI: enable it with `with_wasi(true)` (`xtism call --wasi`)".into(),
        );
    }
    #[cfg(feature = "wasi")]
    {
        let import = crate::wasi::find_import(name)
            .ok_or_else(|| format!("{WASI_MODULE} has no such function"))?;
        match wanted {
            Some(ty) if *ty == import.func_type() => Ok(ImportSource::Wasi(import)),
            _ => Err(format!("WASI provides {}", import.func_type())),
        }
    }
    #[cfg(not(feature = "wasi"))]
    {
        let _ = (name, wanted);
        Err("this build of xtism leaves WASI out".into())
    }
}
