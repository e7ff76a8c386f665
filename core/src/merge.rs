//! Merging the kernel's data path into the plug-in, once per compile.
//!
//! A plug-in moves its input and output through `extism:host/env` imports: `load_u64`,
//! `store_u64`, `input_load_u64` and their byte forms, and the header getters. With the
//! kernel as an instance of its own, each is a call into another instance, one per 8 bytes,
//! and that call costs more than the access it makes (a Wasm-to-Wasm call across instances
//! is about 2 ns on wasmtime and the dominant cost of a 1 MiB copy on wasmi).
//!
//! So core rewrites a single-module plug-in before compiling it:
//! - the kernel memory becomes a memory of the plug-in, defined after all of the plug-in's
//!   own memories (so the plug-in's memory indices, and memory 0 that engines access
//!   fastest, do not move) and exported as [`KERNEL_MEMORY_EXPORT`] for the host;
//! - each data-path import the plug-in makes (with the signature the kernel gives it) is
//!   removed, and the kernel module's own function for it (from `kernel.wat`) is appended to
//!   the plug-in with its memory accesses pointed at the kernel memory; every function index
//!   is renumbered (calls, `ref.func`, elements, exports, start, names);
//! - every direct call to one of those functions is replaced by its body, inlined: the
//!   arguments go to locals added to the caller, and the body runs in a block of its result
//!   type. The appended functions remain for indirect uses (tables, `ref.func`, exports).
//!
//! The plug-in's own code cannot name the kernel memory: its index is past every memory the
//! original module had, which validation holds its code to. The header stays writable by
//! the host alone and every access stays bounds-checked, as in the kernel module.
//!
//! Nothing else changes: imports the merge does not serve stay imports, and a module with
//! none of them, or one it cannot read, is compiled as it is (with the kernel as its own
//! instance). Manifests of several modules keep the kernel instance, which all of their
//! modules share.

use std::sync::OnceLock;

use wasm_encoder::reencode::{Error as ReencodeError, Reencode, RoundtripReencoder};
use wasm_encoder::{
    BlockType, CodeSection, ExportKind, ExportSection, FunctionSection, ImportSection, Instruction,
    MemArg, MemorySection, MemoryType, NameMap, NameSection, SectionId, TypeSection, ValType,
};
use wasmparser::{
    CodeSectionReader, ExportSectionReader, FunctionBody, FunctionSectionReader,
    ImportSectionReader, MemorySectionReader, Name, Operator, Parser, Payload, TypeRef,
    TypeSectionReader,
};

use crate::abi::EXTISM_ENV_MODULE;
use crate::engine::{KERNEL_MEMORY_EXPORT, KERNEL_WASM};

/// Version of the rewrite, part of the compile cache key: change it when the output changes.
pub(crate) const MERGE_VERSION: &str = "merge v6";

/// One data-path function of the kernel module: its export name, signature and body.
struct KernelFunction {
    name: String,
    params: Vec<wasmparser::ValType>,
    results: Vec<wasmparser::ValType>,
    /// Its declared locals (after the parameters), as (count, type).
    locals: Vec<(u32, wasmparser::ValType)>,
    body: FunctionBody<'static>,
    /// The body's instructions, its final `end` included.
    ops: Vec<Operator<'static>>,
    /// Whether its body can replace a call to it: it neither calls nor returns early.
    inlinable: bool,
    /// Whether its body writes one of its parameters. When it does not, an argument that
    /// the caller pushed straight from a local is read from that local (see
    /// `parse_function_body`).
    writes_params: bool,
    /// The header words it reads (`i32.const K` then `i64.load`, K below the header's
    /// end), by address. Inlined, it reads them from locals of the caller instead.
    header_words: Vec<u32>,
}

/// Whether `ops[i]` and `ops[i + 1]` read the header word at a constant address: its address.
fn header_read(ops: &[Operator<'_>], i: usize) -> Option<u32> {
    match (ops.get(i)?, ops.get(i + 1)?) {
        (Operator::I32Const { value }, Operator::I64Load { memarg })
            if memarg.offset == 0
                && memarg.memory == 0
                && u64::try_from(*value).is_ok_and(|k| k + 8 <= crate::alloc::HEADER_SIZE) =>
        {
            u32::try_from(*value).ok()
        }
        _ => None,
    }
}

/// The kernel module's exported functions, parsed once.
fn kernel_functions() -> &'static [KernelFunction] {
    static FUNCTIONS: OnceLock<Vec<KernelFunction>> = OnceLock::new();
    FUNCTIONS.get_or_init(|| parse_kernel().expect("the kernel module is built by core and parses"))
}

fn parse_kernel() -> wasmparser::Result<Vec<KernelFunction>> {
    let mut types = Vec::new();
    let mut func_types = Vec::new();
    let mut exports = Vec::new();
    let mut bodies = Vec::new();
    for payload in Parser::new(0).parse_all(KERNEL_WASM) {
        match payload? {
            Payload::TypeSection(reader) => {
                for ty in reader.into_iter_err_on_gc_types() {
                    types.push(ty?);
                }
            }
            Payload::FunctionSection(reader) => {
                for ty in reader {
                    func_types.push(ty?);
                }
            }
            Payload::ExportSection(reader) => {
                for export in reader {
                    let export = export?;
                    if export.kind == wasmparser::ExternalKind::Func {
                        exports.push((export.name.to_owned(), export.index));
                    }
                }
            }
            Payload::CodeSectionEntry(body) => bodies.push(body),
            _ => {}
        }
    }
    let mut functions = Vec::with_capacity(exports.len());
    for (name, index) in exports {
        let index = usize::try_from(index).unwrap_or(usize::MAX);
        let (Some(&ty), Some(body)) = (func_types.get(index), bodies.get(index)) else {
            continue;
        };
        let Some(ty) = types.get(usize::try_from(ty).unwrap_or(usize::MAX)) else {
            continue;
        };
        let mut locals = Vec::new();
        for local in body.get_locals_reader()? {
            locals.push(local?);
        }
        let params = u32::try_from(ty.params().len()).unwrap_or(u32::MAX);
        let ops = body
            .get_operators_reader()?
            .into_iter()
            .collect::<wasmparser::Result<Vec<_>>>()?;
        let mut header_words: Vec<u32> = (0..ops.len())
            .filter_map(|i| header_read(&ops, i))
            .collect();
        header_words.sort_unstable();
        header_words.dedup();
        let mut inlinable = true;
        let mut writes_params = false;
        for op in body.get_operators_reader()? {
            match op? {
                Operator::Return
                | Operator::Call { .. }
                | Operator::CallIndirect { .. }
                | Operator::ReturnCall { .. }
                | Operator::ReturnCallIndirect { .. } => inlinable = false,
                Operator::LocalSet { local_index } | Operator::LocalTee { local_index } => {
                    writes_params |= local_index < params;
                }
                _ => {}
            }
        }
        functions.push(KernelFunction {
            name,
            params: ty.params().to_vec(),
            results: ty.results().to_vec(),
            locals,
            body: body.clone(),
            ops,
            inlinable,
            writes_params,
            header_words,
        });
    }
    Ok(functions)
}

/// What the first pass learns about the plug-in.
#[derive(Default)]
struct Survey {
    /// Per imported function, in order: the kernel function that replaces it, if any.
    replaced: Vec<Option<usize>>,
    /// Entries of the type section.
    types: u32,
    /// Local (defined) functions.
    local_functions: u32,
    /// The number of parameters of each local function, in order.
    local_params: Vec<u32>,
    /// Memories, imported and defined.
    memories: u32,
    has_function_section: bool,
    has_memory_section: bool,
    has_export_section: bool,
    has_code_section: bool,
}

impl Survey {
    /// What `wasm` holds; `None` for a component or bytes that do not parse.
    fn of(wasm: &[u8]) -> Option<Survey> {
        let kernel = kernel_functions();
        let mut survey = Survey::default();
        let mut func_types: Vec<wasmparser::FuncType> = Vec::new();
        let param_count = |func_types: &[wasmparser::FuncType], ty: u32| {
            func_types
                .get(usize::try_from(ty).unwrap_or(usize::MAX))
                .map_or(0, |t| t.params().len() as u32)
        };
        for payload in Parser::new(0).parse_all(wasm) {
            match payload.ok()? {
                Payload::TypeSection(reader) => {
                    for group in reader {
                        for ty in group.ok()?.into_types() {
                            survey.types += 1;
                            // Only plain function types can describe a kernel import; a
                            // placeholder keeps the numbering for the others.
                            func_types.push(match ty.composite_type.inner {
                                wasmparser::CompositeInnerType::Func(f) => f,
                                _ => wasmparser::FuncType::new([], []),
                            });
                        }
                    }
                }
                Payload::ImportSection(reader) => {
                    for import in reader {
                        let import = import.ok()?;
                        match import.ty {
                            TypeRef::Func(ty) => {
                                let ty = func_types.get(usize::try_from(ty).unwrap_or(usize::MAX));
                                let served = (import.module == EXTISM_ENV_MODULE)
                                    .then(|| {
                                        kernel.iter().position(|k| {
                                            k.name == import.name
                                                && ty.is_some_and(|t| {
                                                    t.params() == k.params.as_slice()
                                                        && t.results() == k.results.as_slice()
                                                })
                                        })
                                    })
                                    .flatten();
                                survey.replaced.push(served);
                            }
                            TypeRef::Memory(_) => survey.memories += 1,
                            _ => {}
                        }
                    }
                }
                Payload::FunctionSection(reader) => {
                    survey.has_function_section = true;
                    survey.local_functions = reader.count();
                    for ty in reader {
                        survey.local_params.push(param_count(&func_types, ty.ok()?));
                    }
                }
                Payload::CodeSectionStart { .. } => survey.has_code_section = true,
                Payload::MemorySection(reader) => {
                    survey.has_memory_section = true;
                    survey.memories += reader.count();
                }
                Payload::ExportSection(_) => survey.has_export_section = true,
                Payload::Version {
                    encoding: wasmparser::Encoding::Component,
                    ..
                } => return None,
                _ => {}
            }
        }
        Some(survey)
    }
}

/// The rewrite, as a wasm-encoder reencoder over the plug-in.
struct Merge {
    survey: Survey,
    /// The kernel functions appended, in order (indices into [`kernel_functions`]).
    appended: Vec<usize>,
    /// Per imported function: its new index if it stays an import.
    import_index: Vec<Option<u32>>,
    /// Imported functions that stay.
    kept_imports: u32,
    /// Removed imports.
    removed: u32,
    /// The local function whose body comes next.
    next_body: usize,
}

impl Merge {
    fn new(survey: Survey) -> Merge {
        let mut appended = Vec::new();
        let mut import_index = Vec::with_capacity(survey.replaced.len());
        let mut kept: u32 = 0;
        for replaced in &survey.replaced {
            match replaced {
                Some(k) => {
                    if !appended.contains(k) {
                        appended.push(*k);
                    }
                    import_index.push(None);
                }
                None => {
                    import_index.push(Some(kept));
                    kept += 1;
                }
            }
        }
        let removed = u32::try_from(survey.replaced.len()).unwrap_or(u32::MAX) - kept;
        Merge {
            survey,
            appended,
            import_index,
            kept_imports: kept,
            removed,
            next_body: 0,
        }
    }

    /// The kernel function that replaces imported function `func`, if it is one.
    fn kernel_function(&self, func: u32) -> Option<usize> {
        *self.survey.replaced.get(usize::try_from(func).ok()?)?
    }

    /// The memory index of the kernel memory in the merged module.
    fn kernel_memory(&self) -> u32 {
        self.survey.memories
    }

    /// The new function index of appended kernel function `k`.
    fn appended_index(&self, k: usize) -> u32 {
        let position = self.appended.iter().position(|a| *a == k).unwrap_or(0);
        self.kept_imports + self.survey.local_functions + position as u32
    }

    /// Declares the appended functions, whose types follow the plug-in's own.
    fn declare_appended(&self, functions: &mut FunctionSection) {
        for k in 0..self.appended.len() {
            functions.function(self.survey.types + k as u32);
        }
    }

    /// Adds the appended functions' bodies, their memory accesses on the kernel memory.
    fn define_appended(&self, code: &mut CodeSection) -> Result<(), ReencodeError> {
        let kernel = kernel_functions();
        let mut body = KernelBody {
            memory: self.kernel_memory(),
            args: Vec::new(),
            local_base: 0,
        };
        for &k in &self.appended {
            body.parse_function_body(code, kernel[k].body.clone())?;
        }
        Ok(())
    }

    fn export_kernel_memory(&self, exports: &mut ExportSection) {
        exports.export(
            KERNEL_MEMORY_EXPORT,
            ExportKind::Memory,
            self.kernel_memory(),
        );
    }

    fn define_kernel_memory(memories: &mut MemorySection) {
        memories.memory(MemoryType {
            minimum: 1,
            maximum: None,
            memory64: false,
            shared: false,
            page_size_log2: None,
        });
    }
}

/// Where a section goes in a module, for placing the sections a module lacks (section ids
/// are not in module order: tags come after memories, the data count before code).
fn order(id: SectionId) -> u8 {
    match id {
        SectionId::Custom => 0,
        SectionId::Type => 1,
        SectionId::Import => 2,
        SectionId::Function => 3,
        SectionId::Table => 4,
        SectionId::Memory => 5,
        SectionId::Tag => 6,
        SectionId::Global => 7,
        SectionId::Export => 8,
        SectionId::Start => 9,
        SectionId::Element => 10,
        SectionId::DataCount => 11,
        SectionId::Code => 12,
        SectionId::Data => 13,
    }
}

/// Whether a section `id` the module lacks goes between `after` and `before`.
fn goes_between(id: SectionId, after: Option<SectionId>, before: Option<SectionId>) -> bool {
    after.is_none_or(|a| order(a) < order(id)) && before.is_none_or(|b| order(id) < order(b))
}

/// Points a kernel function's memory accesses at the kernel memory of the merged module,
/// and, inlined, its parameters at the caller's locals in `args` and its other locals at
/// the caller's locals from `local_base` on.
struct KernelBody {
    memory: u32,
    args: Vec<u32>,
    local_base: u32,
}

impl KernelBody {
    fn local(&self, index: u32) -> u32 {
        match self.args.get(index as usize) {
            Some(&arg) => arg,
            None => self.local_base + index,
        }
    }
}

impl Reencode for KernelBody {
    type Error = std::convert::Infallible;

    fn memory_index(&mut self, _memory: u32) -> u32 {
        self.memory
    }

    fn instruction<'a>(&mut self, op: Operator<'a>) -> Result<Instruction<'a>, ReencodeError> {
        Ok(match op {
            Operator::LocalGet { local_index } => Instruction::LocalGet(self.local(local_index)),
            Operator::LocalSet { local_index } => Instruction::LocalSet(self.local(local_index)),
            Operator::LocalTee { local_index } => Instruction::LocalTee(self.local(local_index)),
            other => wasm_encoder::reencode::utils::instruction(self, other)?,
        })
    }
}

impl Reencode for Merge {
    type Error = std::convert::Infallible;

    fn function_index(&mut self, func: u32) -> u32 {
        let imports = u32::try_from(self.import_index.len()).unwrap_or(u32::MAX);
        if func < imports {
            let i = func as usize;
            match (self.import_index[i], self.survey.replaced[i]) {
                (Some(kept), _) => kept,
                (None, Some(k)) => self.appended_index(k),
                (None, None) => func,
            }
        } else {
            func - self.removed
        }
    }

    fn parse_type_section(
        &mut self,
        types: &mut TypeSection,
        section: TypeSectionReader<'_>,
    ) -> Result<(), ReencodeError> {
        wasm_encoder::reencode::utils::parse_type_section(self, types, section)?;
        let kernel = kernel_functions();
        for &k in &self.appended {
            let f = &kernel[k];
            let params: Vec<_> = f
                .params
                .iter()
                .map(|t| RoundtripReencoder.val_type(*t))
                .collect::<Result<_, _>>()?;
            let results: Vec<_> = f
                .results
                .iter()
                .map(|t| RoundtripReencoder.val_type(*t))
                .collect::<Result<_, _>>()?;
            types.ty().function(params, results);
        }
        Ok(())
    }

    /// A body that calls kernel functions gets each one inlined at every call: its arguments
    /// go to locals added for it, then its body runs in a block of its result type. A call
    /// into another instance, or to a local function, costs more than the access it makes
    /// (on wasmi and wasmer, whose compilers do not inline). Arguments pushed by the
    /// `local.get`s (or left by a `local.tee`) just before the call are read from those
    /// locals instead, when the body never writes its parameters: an interpreter then
    /// copies nothing (`store_u64(p, v)` in a copy loop is `local.get $p`, `local.get $v`,
    /// `call`).
    fn parse_function_body(
        &mut self,
        code: &mut CodeSection,
        func: FunctionBody<'_>,
    ) -> Result<(), ReencodeError> {
        let params = self
            .survey
            .local_params
            .get(self.next_body)
            .copied()
            .unwrap_or(0);
        self.next_body += 1;
        let kernel = kernel_functions();
        let mut inlined: Vec<usize> = Vec::new();
        // Header words can be kept in locals unless an exception can arrive after a call
        // without the call returning (the reload follows the call).
        let mut cacheable = true;
        for op in func.get_operators_reader()? {
            match op? {
                Operator::Call { function_index } => {
                    if let Some(k) = self.kernel_function(function_index)
                        && kernel[k].inlinable
                        && !inlined.contains(&k)
                    {
                        inlined.push(k);
                    }
                }
                Operator::Try { .. }
                | Operator::TryTable { .. }
                | Operator::Catch { .. }
                | Operator::CatchAll
                | Operator::Delegate { .. } => cacheable = false,
                _ => {}
            }
        }
        if inlined.is_empty() {
            return wasm_encoder::reencode::utils::parse_function_body(self, code, func);
        }
        let mut locals = Vec::new();
        let mut next_local = params;
        for local in func.get_locals_reader()? {
            let (count, ty) = local?;
            next_local = next_local.saturating_add(count);
            locals.push((count, self.val_type(ty)?));
        }
        // Where each inlined function's locals start.
        let mut bases = Vec::with_capacity(inlined.len());
        for &k in &inlined {
            bases.push(next_local);
            let f = &kernel[k];
            for ty in &f.params {
                locals.push((1, RoundtripReencoder.val_type(*ty)?));
                next_local = next_local.saturating_add(1);
            }
            for (count, ty) in &f.locals {
                locals.push((*count, RoundtripReencoder.val_type(*ty)?));
                next_local = next_local.saturating_add(*count);
            }
        }
        // The header words the inlined functions read, each kept in a local of its own: read
        // at entry and again after every call that is not inlined. Only the host writes the
        // header, and only while the plug-in has called out (or before the export runs).
        let mut cache: Vec<(u32, u32)> = Vec::new();
        if cacheable {
            let mut words: Vec<u32> = inlined
                .iter()
                .flat_map(|&k| kernel[k].header_words.iter().copied())
                .collect();
            words.sort_unstable();
            words.dedup();
            for word in words {
                locals.push((1, ValType::I64));
                cache.push((word, next_local));
                next_local = next_local.saturating_add(1);
            }
        }
        let kernel_memory = self.kernel_memory();
        let reload = |function: &mut wasm_encoder::Function| {
            for &(word, local) in &cache {
                function.instruction(&Instruction::I32Const(word as i32));
                function.instruction(&Instruction::I64Load(MemArg {
                    offset: 0,
                    align: 3,
                    memory_index: kernel_memory,
                }));
                function.instruction(&Instruction::LocalSet(local));
            }
        };
        let mut function = wasm_encoder::Function::new(locals);
        reload(&mut function);
        // The locals of the `local.get`s read since the last other instruction, not yet
        // written out.
        let mut gets: Vec<u32> = Vec::new();
        let flush = |function: &mut wasm_encoder::Function, gets: &mut Vec<u32>| {
            for local in gets.drain(..) {
                function.instruction(&Instruction::LocalGet(local));
            }
        };
        let mut reader = func.get_operators_reader()?;
        while !reader.eof() {
            let op = reader.read()?;
            match op {
                Operator::LocalGet { local_index } => {
                    gets.push(local_index);
                    continue;
                }
                // `local.tee x` is `local.set x` then a pending `local.get x`, so that an
                // argument a plug-in tees into a local is read from it too (clang's loops).
                // A pending get of `x` itself is written out first: it reads the old value.
                Operator::LocalTee { local_index } => {
                    if gets.contains(&local_index) {
                        flush(&mut function, &mut gets);
                    } else if let Some(top) = gets.pop() {
                        function.instruction(&Instruction::LocalGet(top));
                    }
                    function.instruction(&Instruction::LocalSet(local_index));
                    gets.push(local_index);
                    continue;
                }
                _ => {}
            }
            let target = match op {
                Operator::Call { function_index } => self
                    .kernel_function(function_index)
                    .and_then(|k| Some((k, bases[inlined.iter().position(|i| *i == k)?]))),
                _ => None,
            };
            let Some((k, base)) = target else {
                flush(&mut function, &mut gets);
                let calls_out = matches!(
                    op,
                    Operator::Call { .. }
                        | Operator::CallIndirect { .. }
                        | Operator::CallRef { .. }
                );
                function.instruction(&self.instruction(op)?);
                if calls_out {
                    reload(&mut function);
                }
                continue;
            };
            let f = &kernel[k];
            // The last arguments are the pending gets; the others are on the stack and go to
            // the function's own locals.
            let params = f.params.len() as u32;
            let pending = if f.writes_params {
                0
            } else {
                gets.len().min(f.params.len()) as u32
            };
            let in_place = gets.split_off(gets.len() - pending as usize);
            flush(&mut function, &mut gets);
            for i in (0..params - pending).rev() {
                function.instruction(&Instruction::LocalSet(base + i));
            }
            let args = (0..params - pending)
                .map(|i| base + i)
                .chain(in_place)
                .collect();
            let block = match f.results.as_slice() {
                [] => BlockType::Empty,
                [ty] => BlockType::Result(RoundtripReencoder.val_type(*ty)?),
                // The kernel's functions have at most one result (see `parse_kernel`).
                _ => BlockType::Empty,
            };
            function.instruction(&Instruction::Block(block));
            // The body's own final `end` closes the block.
            let mut body = KernelBody {
                memory: self.kernel_memory(),
                args,
                local_base: base,
            };
            let mut i = 0;
            while let Some(op) = f.ops.get(i) {
                let cached =
                    header_read(&f.ops, i).and_then(|word| cache.iter().find(|(w, _)| *w == word));
                if let Some(&(_, local)) = cached {
                    function.instruction(&Instruction::LocalGet(local));
                    i += 2;
                } else {
                    function.instruction(&body.instruction(op.clone())?);
                    i += 1;
                }
            }
        }
        code.function(&function);
        Ok(())
    }

    fn parse_import_section(
        &mut self,
        imports: &mut ImportSection,
        section: ImportSectionReader<'_>,
    ) -> Result<(), ReencodeError> {
        let mut function = 0;
        for import in section {
            let import = import?;
            if matches!(import.ty, TypeRef::Func(_)) {
                function += 1;
                if self.import_index[function - 1].is_none() {
                    continue;
                }
            }
            self.parse_import(imports, import)?;
        }
        Ok(())
    }

    fn parse_function_section(
        &mut self,
        functions: &mut FunctionSection,
        section: FunctionSectionReader<'_>,
    ) -> Result<(), ReencodeError> {
        wasm_encoder::reencode::utils::parse_function_section(self, functions, section)?;
        self.declare_appended(functions);
        Ok(())
    }

    fn parse_memory_section(
        &mut self,
        memories: &mut MemorySection,
        section: MemorySectionReader<'_>,
    ) -> Result<(), ReencodeError> {
        wasm_encoder::reencode::utils::parse_memory_section(self, memories, section)?;
        Merge::define_kernel_memory(memories);
        Ok(())
    }

    fn parse_export_section(
        &mut self,
        exports: &mut ExportSection,
        section: ExportSectionReader<'_>,
    ) -> Result<(), ReencodeError> {
        wasm_encoder::reencode::utils::parse_export_section(self, exports, section)?;
        self.export_kernel_memory(exports);
        Ok(())
    }

    fn parse_code_section(
        &mut self,
        code: &mut CodeSection,
        section: CodeSectionReader<'_>,
    ) -> Result<(), ReencodeError> {
        wasm_encoder::reencode::utils::parse_code_section(self, code, section)?;
        self.define_appended(code)
    }

    fn parse_custom_name_subsection(
        &mut self,
        names: &mut NameSection,
        section: Name<'_>,
    ) -> Result<(), ReencodeError> {
        match section {
            // Names of removed imports go: the appended functions are the kernel's.
            Name::Function(map) => {
                let mut functions = NameMap::new();
                for naming in map {
                    let naming = naming?;
                    let removed = usize::try_from(naming.index)
                        .ok()
                        .and_then(|i| self.import_index.get(i))
                        .is_some_and(Option::is_none);
                    if !removed {
                        functions.append(self.function_index(naming.index), naming.name);
                    }
                }
                names.functions(&functions);
                Ok(())
            }
            other => {
                wasm_encoder::reencode::utils::parse_custom_name_subsection(self, names, other)
            }
        }
    }

    fn intersperse_section_hook(
        &mut self,
        module: &mut wasm_encoder::Module,
        after: Option<SectionId>,
        before: Option<SectionId>,
    ) -> Result<(), ReencodeError> {
        if !self.survey.has_function_section && goes_between(SectionId::Function, after, before) {
            let mut functions = FunctionSection::new();
            self.declare_appended(&mut functions);
            module.section(&functions);
            self.survey.has_function_section = true;
        }
        if !self.survey.has_memory_section && goes_between(SectionId::Memory, after, before) {
            let mut memories = MemorySection::new();
            Merge::define_kernel_memory(&mut memories);
            module.section(&memories);
            self.survey.has_memory_section = true;
        }
        if !self.survey.has_export_section && goes_between(SectionId::Export, after, before) {
            let mut exports = ExportSection::new();
            self.export_kernel_memory(&mut exports);
            module.section(&exports);
            self.survey.has_export_section = true;
        }
        if !self.survey.has_code_section && goes_between(SectionId::Code, after, before) {
            let mut code = CodeSection::new();
            self.define_appended(&mut code)?;
            module.section(&code);
            self.survey.has_code_section = true;
        }
        Ok(())
    }
}

/// The plug-in with the kernel's data path merged in; `None` when it imports none of it or
/// cannot be read (it is then compiled as it is, beside the kernel instance).
pub(crate) fn merge_kernel(wasm: &[u8]) -> Option<Vec<u8>> {
    if !wasm.starts_with(b"\0asm") {
        return None;
    }
    let survey = Survey::of(wasm)?;
    if survey.replaced.iter().all(Option::is_none) {
        return None;
    }
    // Only a valid module is merged. An invalid one may name a memory it does not have,
    // the index the kernel memory takes in the merged module, which would make it valid
    // and hand it the kernel memory, header included. Every feature is allowed here: the
    // engine judges the features of the merged module (and of the module as given, when
    // it refuses that one).
    wasmparser::Validator::new_with_features(wasmparser::WasmFeatures::all())
        .validate_all(wasm)
        .ok()?;
    let mut merge = Merge::new(survey);
    let mut module = wasm_encoder::Module::new();
    merge
        .parse_core_module(&mut module, Parser::new(0), wasm)
        .ok()?;
    Some(module.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each function body's instructions, in order.
    fn bodies(wasm: &[u8]) -> Vec<Vec<Operator<'_>>> {
        Parser::new(0)
            .parse_all(wasm)
            .filter_map(|payload| match payload.unwrap() {
                Payload::CodeSectionEntry(body) => Some(
                    body.get_operators_reader()
                        .unwrap()
                        .into_iter()
                        .collect::<Result<Vec<_>, _>>()
                        .unwrap(),
                ),
                _ => None,
            })
            .collect()
    }

    fn validate(wasm: &[u8]) {
        wasmparser::Validator::new()
            .validate_all(wasm)
            .unwrap_or_else(|e| panic!("the merged module is invalid: {e}"));
    }

    /// (module, name) of each import of `wasm`.
    fn imports(wasm: &[u8]) -> Vec<(String, String)> {
        let mut imports = Vec::new();
        for payload in Parser::new(0).parse_all(wasm) {
            if let Payload::ImportSection(reader) = payload.unwrap() {
                for import in reader {
                    let import = import.unwrap();
                    imports.push((import.module.to_owned(), import.name.to_owned()));
                }
            }
        }
        imports
    }

    /// Name, kind and index of each export of `wasm`.
    fn exports(wasm: &[u8]) -> Vec<(String, wasmparser::ExternalKind, u32)> {
        let mut exports = Vec::new();
        for payload in Parser::new(0).parse_all(wasm) {
            if let Payload::ExportSection(reader) = payload.unwrap() {
                for export in reader {
                    let export = export.unwrap();
                    exports.push((export.name.to_owned(), export.kind, export.index));
                }
            }
        }
        exports
    }

    /// Function names of the name section, by index.
    fn function_names(wasm: &[u8]) -> Vec<(u32, String)> {
        let mut names = Vec::new();
        for payload in Parser::new(0).parse_all(wasm) {
            if let Payload::CustomSection(reader) = payload.unwrap()
                && let wasmparser::KnownCustom::Name(reader) = reader.as_known()
            {
                for name in reader {
                    if let Name::Function(map) = name.unwrap() {
                        for naming in map {
                            let naming = naming.unwrap();
                            names.push((naming.index, naming.name.to_owned()));
                        }
                    }
                }
            }
        }
        names
    }

    const PLUGIN: &str = r#"(module
      (import "extism:host/env" "input_length" (func $input_length (result i64)))
      (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
      (import "extism:host/env" "input_load_u64" (func $input_load_u64 (param i64) (result i64)))
      (import "extism:host/env" "store_u64" (func $store_u64 (param i64 i64)))
      (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
      (memory (export "memory") 1)
      (table 1 funcref)
      (elem (i32.const 0) $input_length)
      (func $copy (param $out i64) (param $n i64)
        (call $store_u64 (local.get $out) (call $input_load_u64 (i64.const 0))))
      (func (export "run") (result i32)
        (local $out i64)
        (local.set $out (call $alloc (call $input_length)))
        (call $copy (local.get $out) (call $input_length))
        (call $output_set (local.get $out) (call $input_length))
        (i32.const 0))
      (export "length" (func $input_length)))"#;

    #[test]
    fn data_path_imports_become_local_functions_over_a_new_memory() {
        let wasm = wat::parse_str(PLUGIN).unwrap();
        let merged = merge_kernel(&wasm).expect("merged");
        validate(&merged);
        let env = |name: &str| (EXTISM_ENV_MODULE.to_owned(), name.to_owned());
        assert_eq!(imports(&merged), [env("alloc"), env("output_set")]);
        let exports = exports(&merged);
        use wasmparser::ExternalKind::{Func, Memory};
        // Two imports stay, two functions of the plug-in, then input_length, input_load_u64
        // and store_u64 appended in the order the imports named them.
        assert_eq!(
            exports,
            [
                ("memory".to_owned(), Memory, 0),
                ("run".to_owned(), Func, 3),
                ("length".to_owned(), Func, 4),
                (KERNEL_MEMORY_EXPORT.to_owned(), Memory, 1),
            ]
        );
    }

    #[test]
    fn names_follow_their_functions() {
        let wasm = wat::parse_str(PLUGIN).unwrap();
        let merged = merge_kernel(&wasm).unwrap();
        assert_eq!(
            function_names(&merged),
            [
                (0, "alloc".to_owned()),
                (1, "output_set".to_owned()),
                (2, "copy".to_owned())
            ]
        );
    }

    #[test]
    fn a_module_lacking_sections_gets_them() {
        // No memory, no function or code section, and only a re-exported import.
        let wasm = wat::parse_str(
            r#"(module
              (import "extism:host/env" "input_length" (func $len (result i64)))
              (export "len" (func $len)))"#,
        )
        .unwrap();
        let merged = merge_kernel(&wasm).expect("merged");
        validate(&merged);
        assert!(imports(&merged).is_empty());
        assert_eq!(
            exports(&merged),
            [
                ("len".to_owned(), wasmparser::ExternalKind::Func, 0),
                (
                    KERNEL_MEMORY_EXPORT.to_owned(),
                    wasmparser::ExternalKind::Memory,
                    0
                ),
            ]
        );
    }

    #[test]
    fn the_kernel_memory_comes_after_every_memory_of_the_plugin() {
        let wasm = wat::parse_str(
            r#"(module
              (import "env" "shared" (memory 1))
              (import "extism:host/env" "load_u8" (func $load (param i64) (result i32)))
              (memory 1) (memory 2)
              (func (export "f") (result i32) (i32.add (call $load (i64.const 70))
                (i32.load8_u 2 (i32.const 0)))))"#,
        )
        .unwrap();
        let merged = merge_kernel(&wasm).expect("merged");
        validate(&merged);
        assert!(exports(&merged).contains(&(
            KERNEL_MEMORY_EXPORT.to_owned(),
            wasmparser::ExternalKind::Memory,
            3
        )));
    }

    #[test]
    fn other_modules_are_compiled_as_they_are() {
        // No data-path import; one with another signature; not a module; truncated.
        for wat in [
            r#"(module (import "extism:host/env" "alloc" (func (param i64) (result i64))))"#,
            r#"(module (import "extism:host/env" "load_u8" (func (param i32) (result i32))))"#,
            r#"(module (import "other" "load_u8" (func (param i64) (result i32))))"#,
        ] {
            assert_eq!(merge_kernel(&wat::parse_str(wat).unwrap()), None, "{wat}");
        }
        assert_eq!(merge_kernel(b"(module)"), None);
        // Invalid: memory 1 does not exist, but would be the kernel memory once merged.
        let names_memory_1 = wat::parse_str(
            r#"(module
              (import "extism:host/env" "input_length" (func $len (result i64)))
              (memory 1)
              (func (export "f") (result i32)
                (i64.store 1 (i32.const 8) (i64.const 1000000))
                (i32.wrap_i64 (call $len))))"#,
        )
        .unwrap();
        assert_eq!(merge_kernel(&names_memory_1), None);
        let wasm = wat::parse_str(PLUGIN).unwrap();
        assert_eq!(merge_kernel(&wasm[..wasm.len() / 2]), None);
    }

    #[test]
    fn calls_to_the_kernel_are_inlined() {
        let wasm = wat::parse_str(PLUGIN).unwrap();
        let merged = merge_kernel(&wasm).unwrap();
        // Functions 0 and 1 are imports, 2 and 3 the plug-in's, 4.. the kernel's.
        let calls: Vec<u32> = bodies(&merged)
            .iter()
            .flatten()
            .filter_map(|op| match op {
                Operator::Call { function_index } => Some(*function_index),
                _ => None,
            })
            .collect();
        // alloc, copy, output_set: no call to input_length, input_load_u64 or store_u64 is
        // left.
        assert_eq!(calls, [0, 2, 1]);
    }

    /// Arguments pushed straight from locals, or teed into them, are read from them; others
    /// go through the locals added for the inlined function.
    #[test]
    fn arguments_pushed_from_locals_are_read_in_place() {
        let wasm = wat::parse_str(
            r#"(module
              (import "extism:host/env" "store_u64" (func $store_u64 (param i64 i64)))
              (func (export "locals") (param $p i64) (param $v i64)
                (call $store_u64 (local.get $p) (local.get $v)))
              (func (export "mixed") (param $p i64)
                (call $store_u64 (local.get $p) (i64.const 1)))
              (func (export "teed") (param $p i64) (param $v i64)
                (call $store_u64 (local.get $p) (local.tee $v (i64.const 1))))
              (func (export "overwritten") (param $p i64) (param $v i64)
                (call $store_u64 (local.get $p) (local.tee $p (local.get $v)))))"#,
        )
        .unwrap();
        let merged = merge_kernel(&wasm).expect("merged");
        validate(&merged);
        let sets: Vec<usize> = bodies(&merged)
            .iter()
            .map(|ops| {
                let set = |op: &&Operator<'_>| matches!(op, Operator::LocalSet { .. });
                ops.iter().filter(set).count()
            })
            .collect();
        // Each body first sets the header word store_u64 reads (its bound) into a local;
        // then "locals" sets nothing; "mixed" both arguments (the constant is on the stack,
        // and so is $p, pushed before it); "teed" the tee's own local, and $p;
        // "overwritten" the tee's local, and the first argument ($p's value before the tee).
        // The appended store_u64 itself sets nothing.
        assert_eq!(sets, [1, 3, 3, 3, 0]);
    }

    /// The header words inlined bodies read are read once at entry and again after each
    /// call out, where the host may have changed them, and never inside an inlined body;
    /// where an exception could skip the reload, inlined bodies read the header themselves.
    #[test]
    fn header_words_are_read_at_entry_and_after_each_call() {
        let wasm = wat::parse_str(
            r#"(module
              (import "extism:host/env" "store_u64" (func $store_u64 (param i64 i64)))
              (import "extism:host/env" "load_u64" (func $load_u64 (param i64) (result i64)))
              (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
              (tag $t)
              (func (export "calls") (param $p i64) (result i64)
                (call $store_u64 (local.get $p) (i64.const 1))
                (local.set $p (call $alloc (i64.const 8)))
                (call $store_u64 (local.get $p) (i64.const 2))
                (call $load_u64 (local.get $p)))
              (func (export "catches") (param $p i64) (result i64)
                (block $caught
                  (try_table (catch_all $caught)
                    (call $store_u64 (local.get $p) (i64.const 1))))
                (call $load_u64 (local.get $p))))"#,
        )
        .unwrap();
        let merged = merge_kernel(&wasm).expect("merged");
        validate(&merged);
        // Header reads from the kernel memory (memory 0 in the appended functions).
        let reads: Vec<usize> = bodies(&merged)
            .iter()
            .map(|ops| {
                let header = |pair: &[Operator<'_>]| match pair {
                    [Operator::I32Const { value }, Operator::I64Load { memarg }] => {
                        *value < 80 && memarg.offset == 0
                    }
                    _ => false,
                };
                ops.windows(2).filter(|pair| header(pair)).count()
            })
            .collect();
        // "calls": two words (the bounds of load_u64 and store_u64) at entry and after
        // alloc; "catches": one read in each inlined body; then the two appended functions.
        assert_eq!(reads, [4, 2, 1, 1]);
    }

    /// Inlined, a kernel function's declared locals keep what the previous inlined call
    /// left there, where a call would start them at 0: each must be written before it is
    /// read.
    #[test]
    fn kernel_locals_are_written_before_they_are_read() {
        for f in kernel_functions() {
            let params = f.params.len() as u32;
            let mut written = std::collections::HashSet::new();
            for op in f.body.get_operators_reader().unwrap() {
                match op.unwrap() {
                    Operator::LocalSet { local_index } | Operator::LocalTee { local_index } => {
                        written.insert(local_index);
                    }
                    Operator::LocalGet { local_index } if local_index >= params => {
                        assert!(
                            written.contains(&local_index),
                            "{}: local {local_index}",
                            f.name
                        );
                    }
                    _ => {}
                }
            }
            assert!(f.inlinable, "{} is inlined", f.name);
        }
    }

    #[test]
    fn every_data_path_import_of_the_abi_is_served() {
        let served: Vec<&str> = kernel_functions().iter().map(|k| k.name.as_str()).collect();
        let mut expected: Vec<&str> = crate::abi::KERNEL_EXPORTS.iter().map(|e| e.0).collect();
        expected.sort_unstable();
        let mut served_sorted = served.clone();
        served_sorted.sort_unstable();
        assert_eq!(served_sorted, expected);
    }
}
