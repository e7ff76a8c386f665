//! Kernel calls with hostile arguments, made from inside a guest: the plug-in in
//! `abi_calls.wat` reads its input as a program of `extism:host/env` calls (alloc, free,
//! length, loads and stores, input, output, error, reset, config, vars, logs) and makes them
//! with the values the program gives, as a real plug-in does. The first byte picks the engine
//! (wasmi unless it says wasmtime or wasmer) and whether vars are disabled; the rest is the
//! program, run twice on one instance, each run followed by an ordinary call (`echo`).
//!
//! Every call's result is checked against a model of the ABI as documented in core (`abi.rs`,
//! `alloc.rs`, `state.rs`, `kernel.wat`): live blocks never overlap, sit above the 80-byte header,
//! 8-aligned, and take at least 128 bytes each; a free gap that fits is used before the memory
//! grows, and `alloc` gives 0 only for 0 bytes or past 4 GiB, and fails the call when the growth it
//! needs is past `memory.max_pages` (a budget of growth: the kernel memory, which starts with 1
//! page, is the only one the guest grows); `length` is a live block's length and 0 for anything
//! else; loads out of bounds give 0 and stores out of bounds or into the header are ignored;
//! freeing the input block empties the input; `reset` frees everything; config and var lookups
//! answer in a new block and consume the key; `var_set` consumes both blocks and respects
//! `max_var_bytes`. A call that the model says fails (a bad handle, non-UTF-8 key, output outside
//! memory, full memory or var store) must fail at that call, with that error kind; a call that
//! succeeds must give the modelled output. A difference, a panic, or an ordinary call failing after
//! a failed one is a fault.

#![no_main]

use std::collections::BTreeMap;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use xtism::{
    CompiledPlugin, ErrorExt, ErrorKind, Manifest, Plugin, PluginBuilder, UserData, ValType, Wasm,
};

/// The guest (WAT; xtism assembles it).
const GUEST: &str = include_str!("../abi_calls.wat");

/// `memory.max_pages`, so that a program can fill the kernel memory: it may grow from its
/// first page by this many.
const MAX_PAGES: u64 = 4;
const PAGE: u64 = 65_536;
/// The most bytes kernel memory can have (a 32-bit memory).
const MAX_KERNEL_BYTES: u64 = 1 << 32;
/// The var store's cap, unless vars are disabled (0).
const MAX_VAR_BYTES: u64 = 300;
/// The kernel header the guest cannot write and the allocator never hands out.
const HEADER: u64 = 80;
/// The program part of the input the guest reads, and the most calls it makes.
const MAX_PROGRAM: usize = 30_720;
const MAX_CALLS: usize = 4096;
/// What `get_log_level` may answer: 0 trace .. 4 error, `i32::MAX` when off.
const LOG_LEVELS: [u64; 6] = [0, 1, 2, 3, 4, i32::MAX as u64];

/// Results the guest hands to `extism:host/user::record`, in order.
static RECORDS: Mutex<Vec<u64>> = Mutex::new(Vec::new());

fn config() -> BTreeMap<String, String> {
    BTreeMap::from([
        ("k".to_owned(), "v".to_owned()),
        ("e".to_owned(), String::new()),
        ("long".to_owned(), "x".repeat(1000)),
    ])
}

/// The guest compiled once per engine and var cap; each input gets a fresh instance.
fn compiled(engine: &'static str, max_var_bytes: u64) -> CompiledPlugin {
    static CACHE: OnceLock<Mutex<BTreeMap<(&str, u64), CompiledPlugin>>> = OnceLock::new();
    let mut cache = CACHE.get_or_init(Default::default).lock().unwrap();
    let compiled = cache.entry((engine, max_var_bytes)).or_insert_with(|| {
        PluginBuilder::new(Manifest::new([Wasm::data(GUEST.as_bytes().to_vec())]))
            .with_engine(xtism::engine_named(engine).expect("a compiled-in engine"))
            .with_timeout(Duration::from_secs(10))
            .with_memory_max(MAX_PAGES as u32)
            .with_var_max(max_var_bytes)
            .with_config(config())
            .with_function(
                "record",
                [ValType::I64],
                [],
                UserData::new(()),
                |_, args, _, _| {
                    let value = args[0].unwrap_i64() as u64;
                    RECORDS.lock().unwrap().push(value);
                    Ok(())
                },
            )
            .compile()
            .expect("the abi_calls guest compiles")
    });
    compiled.clone()
}

/// Reads a program as the guest does (see `abi_calls.wat`).
struct Decoder<'a> {
    program: &'a [u8],
    pc: usize,
}

impl Decoder<'_> {
    fn byte(&mut self) -> u8 {
        let b = self.program.get(self.pc).copied();
        if b.is_some() {
            self.pc += 1;
        }
        b.unwrap_or(0)
    }

    fn arg(&mut self, results: &[u64]) -> u64 {
        let t = self.byte();
        match t {
            0..0x40 => u64::from(t),
            0x40..0x80 => u64::from_le_bytes(std::array::from_fn(|_| self.byte())),
            _ => {
                let back = usize::from(t & 0x7f);
                results
                    .len()
                    .checked_sub(back + 1)
                    .map_or(0, |i| results[i])
            }
        }
    }
}

/// The bytes a block of `len` occupies: at least 128, a multiple of 8.
fn footprint(len: u64) -> Option<u64> {
    len.max(128).checked_next_multiple_of(8)
}

/// The model: kernel memory contents and size, live blocks, input/output/error, vars.
struct Model {
    memory: Vec<u8>,
    live: BTreeMap<u64, u64>,
    input: (u64, u64),
    output: (u64, u64),
    error: u64,
    vars: BTreeMap<String, Vec<u8>>,
    var_bytes: u64,
    max_var_bytes: u64,
    /// The code `run` returns (op 26).
    code: i32,
}

/// A modelled call's result, or the kind of error the whole plug-in call must fail with.
enum Expect {
    Value(u64),
    /// `get_log_level`: any level, as long as it is one.
    LogLevel,
    Fails(ErrorKind),
}

impl Model {
    fn new(max_var_bytes: u64) -> Model {
        Model {
            memory: vec![0; PAGE as usize],
            live: BTreeMap::new(),
            input: (0, 0),
            output: (0, 0),
            error: 0,
            vars: BTreeMap::new(),
            var_bytes: 0,
            max_var_bytes,
            code: 0,
        }
    }

    /// The header as core writes it (`state.rs`): input, output, the memory's size and the
    /// limits derived from it, and the input's limits when it starts after the header.
    fn write_header(&mut self) {
        let size = self.memory.len() as u64;
        let input = if self.input.0 == HEADER {
            self.input.1
        } else {
            0
        };
        let words = [
            self.input.0,
            self.input.1,
            self.output.0,
            self.output.1,
            size,
            size.saturating_sub(7),
            size.saturating_sub(HEADER),
            size.saturating_sub(HEADER + 7),
            input,
            input.saturating_sub(7),
        ];
        for (i, word) in words.iter().enumerate() {
            self.memory[i * 8..i * 8 + 8].copy_from_slice(&word.to_le_bytes());
        }
    }

    fn reset(&mut self) {
        self.live.clear();
        self.input = (0, 0);
        self.output = (0, 0);
        self.error = 0;
        self.write_header();
    }

    /// A new call: everything freed, the input copied into a new block.
    fn start_call(&mut self, input: &[u8]) {
        self.reset();
        self.code = 0;
        let offset = self.alloc(input.len() as u64, None).expect("the input fits");
        assert!(offset != 0 || input.is_empty(), "the input fits");
        self.bytes_mut(offset, input.len() as u64)
            .copy_from_slice(input);
        self.input = (offset, input.len() as u64);
        self.write_header();
    }

    fn bytes(&self, offset: u64, len: u64) -> &[u8] {
        &self.memory[offset as usize..(offset + len) as usize]
    }

    fn bytes_mut(&mut self, offset: u64, len: u64) -> &mut [u8] {
        &mut self.memory[offset as usize..(offset + len) as usize]
    }

    fn fits(&self, p: u64, n: u64) -> bool {
        p <= 0xFFFF_FFFF && p + n <= self.memory.len() as u64
    }

    /// `alloc(len)`; `real` is what the engine answered, when there is one to check: it
    /// must lie in a free gap that fits (when one does) without overlapping a live block.
    /// `None` when the growth it needs is past `memory.max_pages` (the call fails).
    fn alloc(&mut self, len: u64, real: Option<u64>) -> Option<u64> {
        let Some(size) = footprint(len).filter(|_| len > 0) else {
            assert_eq!(real.unwrap_or(0), 0, "alloc({len}) gives 0");
            return Some(0);
        };
        let mut gaps = Vec::new();
        let mut top = HEADER;
        for (&offset, &l) in &self.live {
            if offset > top {
                gaps.push((top, offset));
            }
            top = offset + footprint(l).unwrap();
        }
        let offset = if gaps.iter().any(|&(s, e)| e - s >= size) {
            // Reuse: where exactly is the allocator's choice (best fit); it must be inside
            // a gap that fits.
            let Some(offset) = real else {
                panic!("alloc({len}) fits a free gap, but the call stopped before answering");
            };
            assert!(
                gaps.iter()
                    .any(|&(s, e)| offset >= s && offset.checked_add(size).is_some_and(|x| x <= e)),
                "alloc({len}) = {offset} is not inside a free gap of {size} bytes: {gaps:?}, live {:?}",
                self.live
            );
            offset
        } else {
            let required = top.saturating_add(size);
            if required > MAX_KERNEL_BYTES {
                assert_eq!(real.unwrap_or(0), 0, "alloc({len}) needs {required} bytes");
                return Some(0);
            }
            if required > (1 + MAX_PAGES) * PAGE {
                assert_eq!(real, None, "alloc({len}) needs {required} bytes: past max_pages");
                return None;
            }
            if required > self.memory.len() as u64 {
                self.memory
                    .resize(required.next_multiple_of(PAGE) as usize, 0);
                self.write_header();
            }
            if let Some(real) = real {
                assert_eq!(real, top, "alloc({len}) extends the high-water mark");
            }
            top
        };
        assert!(
            offset % 8 == 0 && offset >= HEADER,
            "alloc({len}) = {offset}"
        );
        self.live.insert(offset, len);
        Some(offset)
    }

    /// A block holding `bytes`, as the host places answers; `None` when memory is full.
    fn new_block(&mut self, bytes: &[u8], real: Option<u64>) -> Option<u64> {
        let offset = self.alloc(bytes.len() as u64, real)?;
        if offset == 0 && !bytes.is_empty() {
            return None;
        }
        self.bytes_mut(offset, bytes.len() as u64)
            .copy_from_slice(bytes);
        Some(offset)
    }

    fn free(&mut self, offset: u64) {
        if self.live.remove(&offset).is_some() && offset == self.input.0 {
            self.input.1 = 0;
            self.write_header();
        }
    }

    /// The bytes of the block at `offset` (handle 0 is the empty block).
    fn block(&self, offset: u64) -> Option<&[u8]> {
        match offset {
            0 => Some(&[]),
            _ => self.live.get(&offset).map(|&len| self.bytes(offset, len)),
        }
    }

    fn key(&self, offset: u64) -> Result<String, ErrorKind> {
        let bytes = self.block(offset).ok_or(ErrorKind::Guest)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| ErrorKind::Guest)
    }

    /// config_get / var_get: answer, then consume the key.
    fn lookup(&mut self, key: u64, value: Option<Vec<u8>>, real: Option<u64>) -> Expect {
        let answer = match value {
            Some(v) => match self.new_block(&v, real) {
                Some(offset) => offset,
                None => return Expect::Fails(ErrorKind::MemoryLimit),
            },
            None => 0,
        };
        self.free(key);
        Expect::Value(answer)
    }

    fn var_set(&mut self, key: u64, value: u64) -> Expect {
        let outcome = self.set_var(key, value);
        self.free(value);
        self.free(key);
        match outcome {
            Ok(()) => Expect::Value(0),
            Err(kind) => Expect::Fails(kind),
        }
    }

    fn set_var(&mut self, key: u64, value: u64) -> Result<(), ErrorKind> {
        let name = self.key(key)?;
        let bytes = match value {
            0 => None,
            _ => Some(self.block(value).ok_or(ErrorKind::Guest)?.to_vec()),
        };
        if self.max_var_bytes == 0 {
            return Err(ErrorKind::Invalid);
        }
        let size = |len: usize| (name.len() + len) as u64 + xtism::VAR_ENTRY_OVERHEAD;
        let old = self.vars.get(&name).map_or(0, |v| size(v.len()));
        let Some(bytes) = bytes else {
            self.vars.remove(&name);
            self.var_bytes -= old;
            return Ok(());
        };
        let total = self.var_bytes - old + size(bytes.len());
        if total > self.max_var_bytes {
            return Err(ErrorKind::MemoryLimit);
        }
        self.vars.insert(name, bytes);
        self.var_bytes = total;
        Ok(())
    }

    fn load(&self, p: u64, n: u64) -> u64 {
        if !self.fits(p, n) {
            return 0;
        }
        let mut word = [0; 8];
        word[..n as usize].copy_from_slice(self.bytes(p, n));
        u64::from_le_bytes(word)
    }

    fn store(&mut self, p: u64, n: u64, value: u64) {
        if p >= HEADER && self.fits(p, n) {
            self.bytes_mut(p, n)
                .copy_from_slice(&value.to_le_bytes()[..n as usize]);
        }
    }

    fn input_load(&self, off: u64, n: u64) -> u64 {
        let (offset, len) = self.input;
        let inside = match n {
            1 => off < len,
            _ => off <= 0xFFFF_FFFF && off + n <= len,
        };
        if inside {
            self.load(offset + off, n)
        } else {
            0
        }
    }

    /// One call of the program: decodes its arguments and models it. `real` is the value
    /// the guest recorded for it, if it recorded one (for the allocator's placement
    /// choices).
    fn step(&mut self, op: u8, d: &mut Decoder, results: &[u64], real: Option<u64>) -> Expect {
        let value = match op % 28 {
            0 => {
                let len = d.arg(results);
                match self.alloc(len, real) {
                    Some(offset) => offset,
                    None => return Expect::Fails(ErrorKind::MemoryLimit),
                }
            }
            1 => {
                let h = d.arg(results);
                self.free(h);
                0
            }
            2 | 3 => {
                let h = d.arg(results);
                self.live.get(&h).copied().unwrap_or(0)
            }
            4 => self.load(d.arg(results), 1),
            5 => self.load(d.arg(results), 8),
            6 => {
                let p = d.arg(results);
                let v = d.arg(results);
                self.store(p, 1, v);
                0
            }
            7 => {
                let p = d.arg(results);
                let v = d.arg(results);
                self.store(p, 8, v);
                0
            }
            8 => self.input.1,
            9 => self.input.0,
            10 => self.input_load(d.arg(results), 1),
            11 => self.input_load(d.arg(results), 8),
            12 => {
                let h = d.arg(results);
                let n = d.arg(results);
                let inside = h
                    .checked_add(n)
                    .is_some_and(|e| e <= self.memory.len() as u64);
                if n != 0 && !inside {
                    return Expect::Fails(ErrorKind::Guest);
                }
                self.output = (h, n);
                self.write_header();
                0
            }
            13 => self.output.1,
            14 => self.output.0,
            15 => {
                self.error = d.arg(results);
                0
            }
            16 => self.error,
            17 => {
                self.reset();
                0
            }
            18 => self.live.values().map(|&l| footprint(l).unwrap()).sum(),
            19 => {
                let key = d.arg(results);
                let value = match self.key(key) {
                    Ok(name) => config().get(&name).map(|v| v.as_bytes().to_vec()),
                    Err(kind) => return Expect::Fails(kind),
                };
                return self.lookup(key, value, real);
            }
            20 => {
                let key = d.arg(results);
                let value = match self.key(key) {
                    Ok(name) => self.vars.get(&name).cloned(),
                    Err(kind) => return Expect::Fails(kind),
                };
                return self.lookup(key, value, real);
            }
            21 => {
                let key = d.arg(results);
                let value = d.arg(results);
                return self.var_set(key, value);
            }
            22 | 23 => {
                let h = d.arg(results);
                if self.block(h).is_none() {
                    return Expect::Fails(ErrorKind::Guest);
                }
                self.free(h);
                0
            }
            24 => return Expect::LogLevel,
            // No request was made and response headers are off: status 0, headers 0.
            25 => 0,
            26 => {
                self.code = d.arg(results) as i32;
                0
            }
            _ => {
                let n = d.byte();
                let Some(h) = self.alloc(u64::from(n), real) else {
                    return Expect::Fails(ErrorKind::MemoryLimit);
                };
                for i in 0..u64::from(n) {
                    let b = d.byte();
                    self.store(h + i, 1, u64::from(b));
                }
                h
            }
        };
        Expect::Value(value)
    }

    /// The result of a call that returned `code` with no error on the way, as
    /// `call_outcome` in core decides it.
    fn outcome(&self, code: i32) -> Result<Vec<u8>, ErrorKind> {
        let message = self
            .block(self.error)
            .filter(|m| self.error != 0 && !m.is_empty());
        if message.is_some() || code != 0 {
            return Err(ErrorKind::Plugin);
        }
        let (offset, len) = self.output;
        let inside = offset
            .checked_add(len)
            .is_some_and(|e| e <= self.memory.len() as u64);
        Ok(if inside {
            self.bytes(offset, len).to_vec()
        } else {
            Vec::new()
        })
    }
}

/// Runs the program once on `plugin` and checks every recorded result and the outcome.
/// False when the call timed out (machine-dependent: nothing more can be compared).
fn run_program(plugin: &mut Plugin, model: &mut Model, program: &[u8]) -> bool {
    RECORDS.lock().unwrap().clear();
    let real = plugin.call::<&[u8], Vec<u8>>("run", program);
    if matches!(&real, Err(e) if e.kind() == ErrorKind::Timeout) {
        return false;
    }
    let records = std::mem::take(&mut *RECORDS.lock().unwrap());

    model.start_call(program);
    let mut d = Decoder {
        program: &program[..program.len().min(MAX_PROGRAM)],
        pc: 0,
    };
    let mut results: Vec<u64> = Vec::new();
    let mut failed = None;
    while d.pc < d.program.len() && results.len() < MAX_CALLS {
        let at = d.pc;
        let op = d.byte();
        let recorded = records.get(results.len()).copied();
        let expect = model.step(op, &mut d, &results, recorded);
        let value = match expect {
            Expect::Value(v) => v,
            Expect::LogLevel => {
                let level = recorded.expect("get_log_level never fails the call");
                assert!(LOG_LEVELS.contains(&level), "get_log_level = {level}");
                level
            }
            Expect::Fails(kind) => {
                failed = Some((results.len(), op % 28, at, kind));
                break;
            }
        };
        assert_eq!(
            recorded,
            Some(value),
            "call #{} (op {}, at byte {at}) of {}: recorded {recorded:?}, modelled {value}",
            results.len(),
            op % 28,
            plugin.engine_name()
        );
        results.push(value);
    }
    match failed {
        Some((index, op, at, kind)) => {
            assert_eq!(
                records.len(),
                index,
                "op {op} at byte {at} should fail the call ({kind:?}) on {}; recorded {records:?}",
                plugin.engine_name()
            );
            match &real {
                Err(e) => assert_eq!(e.kind(), kind, "op {op} at byte {at}: {e}"),
                Ok(out) => panic!("op {op} at byte {at} should fail with {kind:?}, got {out:?}"),
            }
        }
        None => {
            assert_eq!(records.len(), results.len(), "calls recorded, {records:?}");
            let expected = model.outcome(model.code);
            let real = real.map_err(|e| e.kind());
            assert_eq!(real, expected, "outcome on {}", plugin.engine_name());
        }
    }
    true
}

/// `echo` after the program: an ordinary call must work whatever the program did.
fn echo(plugin: &mut Plugin, model: &mut Model) {
    let out: Vec<u8> = plugin
        .call("echo", "ping")
        .unwrap_or_else(|e| panic!("an ordinary call fails on {}: {e}", plugin.engine_name()));
    assert_eq!(out, b"ping");
    model.start_call(b"ping");
    let h = model.alloc(4, None).expect("4 bytes fit");
    for (i, b) in b"ping".iter().enumerate() {
        model.store(h + i as u64, 1, u64::from(*b));
    }
    model.output = (h, 4);
    model.write_header();
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, program)) = data.split_first() else {
        return;
    };
    let engine = match pick % 8 {
        6 => "wasmtime",
        7 => "wasmer",
        _ => "wasmi",
    };
    let max_var_bytes = if (pick >> 3) & 3 == 3 {
        0
    } else {
        MAX_VAR_BYTES
    };
    let mut plugin =
        Plugin::new_from_compiled(&compiled(engine, max_var_bytes)).expect("an instance");
    let mut model = Model::new(max_var_bytes);
    for _ in 0..2 {
        if !run_program(&mut plugin, &mut model, program) {
            return;
        }
        echo(&mut plugin, &mut model);
    }
});
