//! Assembles the kernel module (`src/kernel.wat`) into Wasm bytes at build time, so no
//! text parser ships in the runtime.

fn main() {
    let source = "src/kernel.wat";
    println!("cargo:rerun-if-changed={source}");
    let wasm = wat::parse_file(source).unwrap_or_else(|e| panic!("{source}: {e}"));
    let out =
        std::path::PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR is set by cargo"));
    std::fs::write(out.join("kernel.wasm"), wasm).expect("write kernel.wasm");
}
