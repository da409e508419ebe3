//! Compiles the examples' AIDL into Rust (`$OUT_DIR/aidl.rs`).

fn main() {
    afbus_idl::Builder::new()
        .include_dir("examples/aidl")
        .file("examples/aidl/afbus/examples/IEcho.aidl")
        .compile()
        .unwrap_or_else(|e| panic!("{e}"));
}
