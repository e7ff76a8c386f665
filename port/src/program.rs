//! A host program written against the official `extism` crate's API. Only the next line
//! would differ in a program for the official runtime (`use extism::*;`); with the
//! `official` feature, `xtism` names that crate and this file builds unchanged.
use xtism::*;

use convert::{Base64, Json, Msgpack, Prost, Raw};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, ensure};
use serde::{Deserialize, Serialize};

/// A plug-in that never returns, for timeouts, cancellation and fuel.
const SPIN: &str = r#"(module
  (func (export "spin") (result i32) (loop (br 0)) (i32.const 0))
  (func (export "quick") (result i32) (i32.const 0)))"#;

/// What `count_vowels` outputs.
#[derive(Debug, Deserialize, Serialize, PartialEq)]
struct Count {
    count: u64,
    total: u64,
    vowels: String,
}

typed_plugin!(CountVowels {
    count_vowels(&str) -> Json<Count>;
});

// The caller chooses the output type.
typed_plugin!(CountVowelsAs {
    count_vowels<T: FromBytes<'a>>(&str) -> T;
});

host_fn!(hello_world(greeting: String; name: String) -> String {
    let greeting = greeting.get()?;
    let greeting = greeting.lock().unwrap();
    Ok(format!("{greeting} {name}"))
});

host_fn!(host_reflect(data: Vec<u8>) -> Vec<u8> { Ok(data) });

/// Plain old data, for `Raw`: carried as its own bytes.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
struct Point {
    x: u32,
    y: f32,
}

/// Plain old data of alignment 1, which `Raw` can decode from any output: it decodes in
/// place, and the official kernel does not align blocks (`echo`'s 8-byte output starts at
/// an odd address there), so a `Point` decodes on xtism, whose blocks are 8-byte aligned,
/// but not always there.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
struct Rgba {
    r: u8,
    g: u8,
    b: u8,
    a: u8,
}

/// A protobuf message, for `Prost`.
#[derive(Clone, PartialEq, prost::Message)]
struct Note {
    #[prost(string, tag = "1")]
    text: String,
    #[prost(uint32, tag = "2")]
    stars: u32,
}

// An encoding of the program's own: pretty-printed JSON.
convert::encoding!(
    PrettyJson,
    serde_json::to_vec_pretty,
    serde_json::from_slice
);

/// A type that converts itself, through the encoding its attribute names.
#[derive(Debug, PartialEq, Serialize, Deserialize, ToBytes, FromBytes)]
#[encoding(Json)]
struct Greeting {
    to: String,
    times: u32,
}

/// The corpus of plug-ins the program loads, in `conformance/plugins`.
pub struct Corpus(pub PathBuf);

impl Corpus {
    fn wasm(&self, name: &str) -> Result<Vec<u8>, Error> {
        let path = self.0.join(name);
        std::fs::read(&path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
    }
}

/// How many parts [`run`] runs.
pub const PARTS: usize = 17;

/// Runs every part of the program; each returns an error saying what differed.
///
/// # Errors
///
/// The first part that fails, named.
pub fn run(corpus: &Corpus, scratch: &Path) -> Result<Vec<&'static str>, Error> {
    type Part = fn(&Corpus, &Path) -> Result<(), Error>;
    let parts: [(&'static str, Part); PARTS] = [
        ("calls and conversions", calls_and_conversions),
        ("encodings", encodings),
        ("manifest and config", manifest_and_config),
        ("vars and reset", vars_and_reset),
        ("host functions", host_functions),
        ("host context", host_context),
        ("current plug-in", current_plugin),
        ("typed plug-in", typed_plugin),
        ("compiled plug-ins", compiled_plugins),
        ("errors", errors),
        ("timeouts and cancellation", timeouts_and_cancellation),
        ("fuel", fuel),
        ("memory limit", memory_limit),
        ("pool", pool),
        ("wasi", wasi),
        ("logging and version", logging_and_version),
        ("builder options", builder_options),
    ];
    let mut done = Vec::new();
    for (name, part) in parts {
        part(corpus, scratch).map_err(|e| e.context(format!("part {name:?}")))?;
        done.push(name);
    }
    Ok(done)
}

fn calls_and_conversions(corpus: &Corpus, _: &Path) -> Result<(), Error> {
    let mut plugin = Plugin::new(corpus.wasm("c/echo.wasm")?, [], false)?;
    ensure!(plugin.function_exists("echo"));
    ensure!(!plugin.function_exists("nope"));
    let out: &str = plugin.call("echo", "borrowed")?;
    ensure!(out == "borrowed");
    let out: String = plugin.call("echo", String::from("owned"))?;
    ensure!(out == "owned");
    let out: Vec<u8> = plugin.call("echo", vec![0u8, 1, 2, 255])?;
    ensure!(out == [0, 1, 2, 255]);
    let out: &[u8] = plugin.call("echo", &b"bytes"[..])?;
    ensure!(out == b"bytes");
    let Json(back): Json<Count> = plugin.call(
        "echo",
        Json(Count {
            count: 1,
            total: 2,
            vowels: "e".into(),
        }),
    )?;
    ensure!(back.total == 2);
    let sum: String = plugin.call("sum_bytes", "abc")?;
    ensure!(sum == "294");
    let _: () = plugin.call("echo", ())?;
    ensure!(!plugin.has_wasi());
    let id = plugin.id;
    ensure!(!id.is_nil());
    Ok(())
}

/// Each encoding's bytes go through `echo` and come back: read as bytes, they must be
/// exactly that encoding's (so a changed encoding fails even if it still round-trips), and
/// decoded, the value that went in.
fn encodings(corpus: &Corpus, _: &Path) -> Result<(), Error> {
    let mut plugin = Plugin::new(corpus.wasm("c/echo.wasm")?, [], false)?;
    let count = Count {
        count: 1,
        total: 2,
        vowels: "e".into(),
    };

    // MessagePack: rmp-serde writes a struct as an array of its fields.
    let bytes: Vec<u8> = plugin.call("echo", Msgpack(&count))?;
    ensure!(bytes == [0x93, 1, 2, 0xa1, b'e'], "{bytes:?}");
    let Msgpack(back): Msgpack<Count> = plugin.call("echo", Msgpack(&count))?;
    ensure!(back == count, "{back:?}");

    let text: String = plugin.call("echo", Base64(b"hi\0"))?;
    ensure!(text == "aGkA", "{text}");
    let Base64(back): Base64<Vec<u8>> = plugin.call("echo", Base64(vec![0u8, 255, 7]))?;
    ensure!(back == [0, 255, 7], "{back:?}");
    let Base64(back): Base64<String> = plugin.call("echo", "aGkh")?;
    ensure!(back == "hi!", "{back}");
    ensure!(
        plugin
            .call::<&str, Base64<Vec<u8>>>("echo", "not base64!")
            .is_err()
    );

    // Raw: the value's memory, little-endian; decoding borrows the output.
    let bytes: Vec<u8> = plugin.call("echo", Raw(&Point { x: 7, y: 0.5 }))?;
    ensure!(bytes == [7, 0, 0, 0, 0, 0, 0, 0x3f], "{bytes:?}");
    let pixel = Rgba {
        r: 1,
        g: 2,
        b: 3,
        a: 255,
    };
    let Raw(back): Raw<Rgba> = plugin.call("echo", Raw(&pixel))?;
    let back = *back;
    ensure!(back == pixel, "{back:?}");
    ensure!(
        plugin.call::<&str, Raw<Rgba>>("echo", "abc").is_err(),
        "3 bytes are no Rgba"
    );

    let note = Note {
        text: "hi".into(),
        stars: 5,
    };
    let bytes: Vec<u8> = plugin.call("echo", Prost(note.clone()))?;
    ensure!(bytes == [0x0a, 2, b'h', b'i', 0x10, 5], "{bytes:?}");
    let Prost(back): Prost<Note> = plugin.call("echo", Prost(note.clone()))?;
    ensure!(back == note, "{back:?}");

    let text: String = plugin.call("echo", PrettyJson(&count))?;
    ensure!(
        text == "{\n  \"count\": 1,\n  \"total\": 2,\n  \"vowels\": \"e\"\n}",
        "{text}"
    );
    let PrettyJson(back): PrettyJson<Count> = plugin.call("echo", PrettyJson(&count))?;
    ensure!(back == count, "{back:?}");

    // Derived conversions, by value and by reference.
    let greeting = Greeting {
        to: "Ann".into(),
        times: 2,
    };
    let text: String = plugin.call("echo", &greeting)?;
    ensure!(text == r#"{"to":"Ann","times":2}"#, "{text}");
    let back: Greeting = plugin.call("echo", greeting)?;
    ensure!(
        back == Greeting {
            to: "Ann".into(),
            times: 2
        },
        "{back:?}"
    );
    ensure!(plugin.call::<&str, Greeting>("echo", "{}").is_err());
    Ok(())
}

fn manifest_and_config(corpus: &Corpus, _: &Path) -> Result<(), Error> {
    let manifest = Manifest::new([Wasm::data(corpus.wasm("as/count_vowels.wasm")?)])
        .with_config_key("vowels", "o")
        .with_memory_max(64);
    let mut plugin = Plugin::new(&manifest, [], false)?;
    let Json(count): Json<Count> = plugin.call("count_vowels", "Hello, World!")?;
    ensure!(count.count == 2 && count.vowels == "o", "{count:?}");
    let file = Manifest::new([Wasm::file(corpus.0.join("as/count_vowels.wasm"))]);
    let mut plugin = PluginBuilder::new(file).build()?;
    let Json(count): Json<Count> = plugin.call("count_vowels", "aaa")?;
    ensure!(count.count == 3, "{count:?}");
    Ok(())
}

fn vars_and_reset(corpus: &Corpus, _: &Path) -> Result<(), Error> {
    let mut plugin = Plugin::new(corpus.wasm("as/count_vowels.wasm")?, [], false)?;
    let Json(first): Json<Count> = plugin.call("count_vowels", "aa")?;
    let Json(second): Json<Count> = plugin.call("count_vowels", "aa")?;
    ensure!(
        first.total == 2 && second.total == 4,
        "{first:?} {second:?}"
    );
    plugin.reset()?;
    let Json(after): Json<Count> = plugin.call("count_vowels", "aa")?;
    ensure!(
        after.total == 6,
        "reset frees blocks and keeps vars: {after:?}"
    );
    Ok(())
}

fn host_functions(corpus: &Corpus, _: &Path) -> Result<(), Error> {
    let greet = Function::new(
        "hello_world",
        [PTR],
        [PTR],
        UserData::new("Hi".to_string()),
        hello_world,
    );
    ensure!(greet.name() == "hello_world");
    ensure!(greet.namespace() == Some(EXTISM_USER_MODULE) || greet.namespace().is_none());
    ensure!(greet.params() == [PTR] && greet.results() == [ValType::I64]);
    let mut plugin = Plugin::new(corpus.wasm("as/host_fn.wasm")?, [greet], false)?;
    let out: String = plugin.call("call_host", "Bob")?;
    ensure!(out == "Hi Bob!", "{out}");

    // The same function by hand, reading and writing blocks through `CurrentPlugin`.
    let calls = Arc::new(Mutex::new(0u32));
    let by_hand = Function::new(
        "hello_world",
        [ValType::I64],
        [ValType::I64],
        UserData::new(Arc::clone(&calls)),
        |plugin: &mut CurrentPlugin,
         inputs: &[Val],
         outputs: &mut [Val],
         calls: UserData<Arc<Mutex<u32>>>| {
            *calls.get()?.lock().unwrap().lock().unwrap() += 1;
            // Shared reads held side by side, as the official API allows.
            let vars = plugin.vars();
            let id = plugin.id();
            ensure!(vars.is_empty() && !id.is_nil() && plugin.time_remaining().is_none());
            let handle = plugin
                .memory_from_val(&inputs[0])
                .ok_or_else(|| Error::msg("no block"))?;
            let name = plugin.memory_str(handle)?.to_string();
            let length = plugin.memory_length(handle.offset())?;
            plugin.memory_free(handle)?;
            let out = plugin.memory_new(format!("Hey {name} ({length})"))?;
            outputs[0] = plugin.memory_to_val(out);
            Ok(())
        },
    );
    let mut plugin = PluginBuilder::new(corpus.wasm("as/host_fn.wasm")?)
        .with_function_in_namespace(
            EXTISM_USER_MODULE,
            "unused",
            [PTR],
            [PTR],
            UserData::<()>::default(),
            |_, _, _, _| Ok(()),
        )
        .with_functions([by_hand])
        .build()?;
    let out: String = plugin.call("call_host", "Ann")?;
    ensure!(out == "Hey Ann (3)!", "{out}");
    ensure!(*calls.lock().unwrap() == 1);

    // A host function with a typed result, through `memory_get_val`/`memory_set_val`.
    let typed = Function::new(
        "host_reflect",
        [PTR],
        [PTR],
        UserData::<()>::default(),
        |plugin: &mut CurrentPlugin, inputs: &[Val], outputs: &mut [Val], _: UserData<()>| {
            let bytes: Vec<u8> = plugin.memory_get_val(&inputs[0])?;
            plugin.memory_set_val(&mut outputs[0], bytes.to_ascii_uppercase())?;
            Ok(())
        },
    );
    let mut plugin = Plugin::new(corpus.wasm("c/reflect.wasm")?, [typed], false)?;
    let out: String = plugin.call("reflect", "up")?;
    ensure!(out == "UP", "{out}");
    let reflect = Function::new(
        "host_reflect",
        [PTR],
        [PTR],
        UserData::default(),
        host_reflect,
    )
    .with_namespace(EXTISM_USER_MODULE);
    let mut plugin = Plugin::new(corpus.wasm("c/reflect.wasm")?, [reflect], false)?;
    let out: Vec<u8> = plugin.call("reflect", vec![7u8; 1000])?;
    ensure!(out == vec![7u8; 1000]);
    Ok(())
}

/// A host function that works on the calling plug-in's memory, vars and error through every
/// `CurrentPlugin` method the other parts leave out: it upper-cases the input in place,
/// answers it with a `!` in a block of its own, and remembers it in a var.
fn shout(
    plugin: &mut CurrentPlugin,
    inputs: &[Val],
    outputs: &mut [Val],
    _: UserData<()>,
) -> Result<(), Error> {
    let offset = inputs[0].unwrap_i64() as u64;
    let handle = plugin
        .memory_handle(offset)
        .ok_or_else(|| Error::msg("no block at the input's offset"))?;
    ensure!(plugin.memory_length_unsafe(offset)? == handle.length);
    let text: String = plugin.memory_get(handle)?;
    let last = plugin.vars().get("last").cloned();
    plugin.memory_str_mut(handle)?.make_ascii_uppercase();
    let upper = plugin.memory_bytes(handle)?.to_vec();
    ensure!(upper == text.to_ascii_uppercase().into_bytes(), "{upper:?}");
    let out = plugin.memory_alloc(handle.length + 1)?;
    let bytes = plugin.memory_bytes_mut(out)?;
    bytes[..upper.len()].copy_from_slice(&upper);
    bytes[upper.len()] = b'!';
    // The var the previous call left (`current_plugin` sends "shout", then "louder", to one
    // plug-in), then this call's.
    let expected: Option<&[u8]> = (text == "louder").then_some(b"shout".as_slice());
    ensure!(
        last.as_deref() == expected,
        "the var the previous call left: {last:?}"
    );
    plugin
        .vars_mut()
        .insert("last".to_string(), text.into_bytes());
    ensure!(plugin.get_error().is_none());
    plugin.set_error("not yet")?;
    ensure!(plugin.get_error() == Some("not yet"));
    plugin.clear_error();
    ensure!(plugin.get_error().is_none());
    outputs[0] = plugin.memory_to_val(out);
    Ok(())
}

fn current_plugin(corpus: &Corpus, _: &Path) -> Result<(), Error> {
    let mut plugin = PluginBuilder::new(corpus.wasm("c/reflect.wasm")?)
        .with_function(
            "host_reflect",
            [PTR],
            [PTR],
            UserData::<()>::default(),
            shout,
        )
        .build()?;
    for word in ["shout", "louder"] {
        let out: String = plugin.call("reflect", word)?;
        ensure!(out == format!("{}!", word.to_ascii_uppercase()), "{out}");
    }
    // A function whose namespace is set after it is made.
    let mut f = Function::new("host_reflect", [PTR], [PTR], UserData::default(), shout);
    f.set_namespace(EXTISM_USER_MODULE);
    ensure!(f.namespace() == Some(EXTISM_USER_MODULE));
    let wasm = corpus.wasm("c/reflect.wasm")?;
    let pool = Pool::new_from_builder(
        move || Plugin::new(&wasm, [f.clone()], false),
        PoolBuilder::new().with_max_instances(1),
    );
    let out = pool.with_plugin(Duration::from_secs(5), |plugin| {
        let out: String = plugin.call("reflect", "pool")?;
        Ok(out)
    })?;
    ensure!(out.as_deref() == Some("POOL!"), "{out:?}");
    Ok(())
}

fn host_context(corpus: &Corpus, _: &Path) -> Result<(), Error> {
    let f = Function::new(
        "host_reflect",
        [PTR],
        [PTR],
        UserData::<()>::default(),
        |plugin: &mut CurrentPlugin, inputs: &[Val], outputs: &mut [Val], _: UserData<()>| {
            let suffix = plugin.host_context::<String>()?.clone();
            let text: String = plugin.memory_get_val(&inputs[0])?;
            plugin.memory_set_val(&mut outputs[0], format!("{text}{suffix}"))?;
            Ok(())
        },
    );
    let mut plugin = Plugin::new(corpus.wasm("c/reflect.wasm")?, [f], false)?;
    let out: String = plugin.call_with_host_context("reflect", "a", String::from("-ctx"))?;
    ensure!(out == "a-ctx", "{out}");
    ensure!(
        plugin.call::<&str, String>("reflect", "a").is_err(),
        "no context given"
    );
    Ok(())
}

fn typed_plugin(corpus: &Corpus, _: &Path) -> Result<(), Error> {
    let plugin = Plugin::new(corpus.wasm("as/count_vowels.wasm")?, [], false)?;
    let mut typed: CountVowels = plugin.try_into()?;
    let Json(count) = typed.count_vowels("Hello, World!")?;
    ensure!(count.count == 3, "{count:?}");
    let plugin: Plugin = typed.into();
    ensure!(plugin.function_exists("count_vowels"));
    let mut generic: CountVowelsAs = plugin.try_into()?;
    let Json(count): Json<Count> = generic.count_vowels("aeiou")?;
    ensure!(count.count == 5, "{count:?}");
    let text: String = generic.count_vowels("xyz")?;
    ensure!(text.starts_with(r#"{"count":0,"#), "{text}");
    let wrong = Plugin::new(corpus.wasm("c/echo.wasm")?, [], false)?;
    ensure!(CountVowels::try_from(wrong).is_err());
    Ok(())
}

fn compiled_plugins(corpus: &Corpus, _: &Path) -> Result<(), Error> {
    let builder = PluginBuilder::new(corpus.wasm("as/count_vowels.wasm")?).with_wasi(false);
    let compiled = CompiledPlugin::new(builder.clone())?;
    let also = builder.compile()?;
    let threads: Vec<_> = (0..4)
        .map(|i| {
            let compiled = if i % 2 == 0 { &compiled } else { &also };
            let mut plugin = Plugin::new_from_compiled(compiled)?;
            Ok(std::thread::spawn(move || -> Result<u64, Error> {
                let Json(count): Json<Count> = plugin.call("count_vowels", "aeiou")?;
                Ok(count.count)
            }))
        })
        .collect::<Result<_, Error>>()?;
    for thread in threads {
        let count = thread
            .join()
            .map_err(|_| Error::msg("a thread panicked"))??;
        ensure!(count == 5);
    }
    Ok(())
}

fn errors(corpus: &Corpus, _: &Path) -> Result<(), Error> {
    let mut plugin = Plugin::new(corpus.wasm("as/errors.wasm")?, [], false)?;
    let err = plugin.call::<&str, &str>("fail", "x").unwrap_err();
    ensure!(
        err.root_cause().to_string() == "failed on purpose: x",
        "{err:#}"
    );
    match plugin.call_get_error_code::<&str, &str>("fail", "y") {
        Err((err, code)) => ensure!(code == 1, "{err}: code {code}"),
        Ok(out) => bail!("fail returned {out:?}"),
    }
    ensure!(plugin.call::<&str, &str>("nope", "").is_err());

    // A host function that sets the plug-in's error, then fails or returns.
    fn set_then_fail(
        plugin: &mut CurrentPlugin,
        _: &[Val],
        _: &mut [Val],
        _: UserData<()>,
    ) -> Result<(), Error> {
        plugin.set_error("TEST")?;
        bail!("Error");
    }
    fn set_then_return(
        plugin: &mut CurrentPlugin,
        inputs: &[Val],
        outputs: &mut [Val],
        _: UserData<()>,
    ) -> Result<(), Error> {
        let (offset, length) = plugin.set_error("TEST")?;
        ensure!(offset != 0 && length == 4);
        outputs[0] = inputs[0];
        Ok(())
    }
    for f in [
        Function::new(
            "hello_world",
            [PTR],
            [PTR],
            UserData::default(),
            set_then_fail,
        ),
        Function::new(
            "hello_world",
            [PTR],
            [PTR],
            UserData::default(),
            set_then_return,
        ),
    ] {
        let mut plugin = Plugin::new(corpus.wasm("as/host_fn.wasm")?, [f], false)?;
        let output: Result<String, Error> = plugin.call("call_host", "Bob");
        let err = output
            .err()
            .ok_or_else(|| Error::msg("the call succeeded"))?;
        ensure!(err.root_cause().to_string() == "TEST", "{err:#}");
    }
    Ok(())
}

fn timeouts_and_cancellation(_: &Corpus, _: &Path) -> Result<(), Error> {
    let manifest =
        Manifest::new([Wasm::data(SPIN.as_bytes())]).with_timeout(Duration::from_millis(50));
    let mut plugin = Plugin::new(&manifest, [], false)?;
    let output: Result<&[u8], Error> = plugin.call("spin", "");
    let err = output.err().ok_or_else(|| Error::msg("spin returned"))?;
    ensure!(err.root_cause().to_string() == "timeout", "{err:#}");
    let _: &[u8] = plugin.call("quick", "")?;

    // A cancel while no call runs does nothing, so the canceller keeps at it until the
    // call has returned.
    let mut plugin = PluginBuilder::new(SPIN.as_bytes()).build()?;
    let handle = plugin.cancel_handle();
    let returned = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let canceller = {
        let (handle, returned) = (handle.clone(), Arc::clone(&returned));
        std::thread::spawn(move || -> Result<(), Error> {
            while !returned.load(std::sync::atomic::Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(10));
                handle.cancel()?;
            }
            Ok(())
        })
    };
    let output: Result<&[u8], Error> = plugin.call("spin", "");
    returned.store(true, std::sync::atomic::Ordering::SeqCst);
    canceller
        .join()
        .map_err(|_| Error::msg("the canceller panicked"))??;
    ensure!(output.is_err(), "a cancelled call fails");
    let _: &[u8] = plugin.call("quick", "")?;
    handle.cancel()?;
    Ok(())
}

fn fuel(_: &Corpus, _: &Path) -> Result<(), Error> {
    let mut plugin = PluginBuilder::new(SPIN.as_bytes())
        .with_fuel_limit(10_000)
        .with_initialization_fuel_limit(1_000_000)
        .build()?;
    let output: Result<&[u8], Error> = plugin.call("spin", "");
    let err = output.err().ok_or_else(|| Error::msg("spin returned"))?;
    ensure!(
        err.chain().any(|cause| cause.to_string().contains("fuel")),
        "{err:#}"
    );
    let _: &[u8] = plugin.call("quick", "")?;
    ensure!(
        plugin
            .fuel_consumed()
            .is_some_and(|used| used > 0 && used < 10_000)
    );
    let refused = PluginBuilder::new(SPIN.as_bytes())
        .with_initialization_fuel_limit(10)
        .compile();
    let err = refused.err().ok_or_else(|| Error::msg("compiled"))?;
    ensure!(err.to_string() == "an initialization fuel limit requires a call fuel limit");
    Ok(())
}

fn memory_limit(corpus: &Corpus, _: &Path) -> Result<(), Error> {
    let manifest = Manifest::new([Wasm::data(corpus.wasm("c/echo.wasm")?)]).with_memory_max(20);
    let mut plugin = Plugin::new(&manifest, [], false)?;
    let output: Result<Vec<u8>, Error> = plugin.call("echo", vec![b'a'; 4 << 20]);
    let err = output
        .err()
        .ok_or_else(|| Error::msg("4 MiB fit in 20 pages"))?;
    ensure!(err.root_cause().to_string() == "oom", "{err:#}");
    let out: String = plugin.call("echo", "small")?;
    ensure!(out == "small");
    Ok(())
}

fn pool(corpus: &Corpus, _: &Path) -> Result<(), Error> {
    let wasm = corpus.wasm("as/count_vowels.wasm")?;
    let pool: Pool = PoolBuilder::new()
        .with_max_instances(2)
        .build(move || PluginBuilder::new(wasm.clone()).build());
    let threads: Vec<_> = (0..6)
        .map(|_| {
            let pool = pool.clone();
            std::thread::spawn(move || -> Result<(), Error> {
                let mut plugin = pool
                    .get(Duration::from_secs(10))?
                    .ok_or_else(|| Error::msg("no instance in 10 s"))?;
                let Json(count): Json<Count> = plugin.call("count_vowels", "abc")?;
                ensure!(count.count == 1);
                ensure!(!plugin.id().is_nil());
                Ok(())
            })
        })
        .collect();
    for thread in threads {
        thread
            .join()
            .map_err(|_| Error::msg("a thread panicked"))??;
    }
    ensure!(pool.count() <= 2, "{}", pool.count());
    ensure!(pool.function_exists("count_vowels", Duration::from_secs(1))?);
    ensure!(!pool.function_exists("nope", Duration::from_secs(1))?);
    let total = pool.with_plugin(Duration::from_secs(1), |plugin| {
        let Json(count): Json<Count> = plugin.call("count_vowels", "e")?;
        Ok(count.count)
    })?;
    ensure!(total == Some(1));
    let default_pool = Pool::new(|| Plugin::new(SPIN.as_bytes(), [], false));
    let held: PoolPlugin = default_pool
        .get(Duration::from_secs(1))?
        .ok_or_else(|| Error::msg("no instance"))?;
    drop(held);
    ensure!(default_pool.count() == 1);
    Ok(())
}

fn wasi(corpus: &Corpus, scratch: &Path) -> Result<(), Error> {
    std::fs::create_dir_all(scratch)?;
    std::fs::write(scratch.join("note.txt"), "Hello, WASI!")?;
    let manifest = Manifest::new([Wasm::data(corpus.wasm("c/wasi.wasm")?)])
        .with_allowed_path(scratch.display().to_string(), "/sb");
    let mut plugin = Plugin::new(&manifest, [], true)?;
    ensure!(plugin.has_wasi());
    let text: String = plugin.call("read_file", "/sb/note.txt")?;
    ensure!(text == "Hello, WASI!", "{text}");
    let ctors: String = plugin.call("ctor_count", "")?;
    ensure!(ctors == "ctors=1", "{ctors}");
    Ok(())
}

fn logging_and_version(corpus: &Corpus, _: &Path) -> Result<(), Error> {
    let version = extism_version();
    ensure!(!version.is_empty());
    // Once per process: the program installs it here only.
    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let sink = Arc::clone(&lines);
    set_log_callback(
        move |line: &str| sink.lock().unwrap().push(line.to_string()),
        "error",
    )?;
    let mut plugin = Plugin::new(corpus.wasm("as/errors.wasm")?, [], false)?;
    let out: String = plugin.call("log_all", "port-log-line")?;
    ensure!(out == "logged", "{out}");
    let lines = lines.lock().unwrap();
    ensure!(
        lines.iter().any(|l| l.contains("port-log-line")),
        "the error-level line reached the callback: {lines:?}"
    );
    Ok(())
}

/// A plug-in whose `boom` traps, with a memory to dump.
const TRAP: &str = r#"(module
  (memory (export "memory") 1)
  (func (export "boom") (result i32) unreachable)
  (func (export "quick") (result i32) (i32.const 0)))"#;

fn builder_options(_: &Corpus, scratch: &Path) -> Result<(), Error> {
    std::fs::create_dir_all(scratch)?;
    let dump = scratch.join("memdump.bin");
    let mut plugin = PluginBuilder::new(TRAP.as_bytes())
        .with_debug_options(DebugOptions::default())
        .with_wasi(false)
        .with_cache_disabled()
        .with_memdump(&dump)
        .with_http_response_headers(true)
        .build()?;
    ensure!(plugin.call::<&str, &str>("boom", "x").is_err());
    let written = std::fs::metadata(&dump).map(|m| m.len()).unwrap_or(0);
    ensure!(written > 0, "a trap writes the memory dump");
    let _: &str = plugin.call("quick", "")?;
    Ok(())
}
