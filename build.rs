//! Compiles the examples' AIDL into Rust (`$OUT_DIR/aidl.rs`).

fn main() {
    afbus_idl::Builder::new()
        .include_dir("examples/aidl")
        .files(
            ["IEcho", "IProgress", "IWorker", "IPriority", "IFiles"]
                .map(|n| format!("examples/aidl/afbus/examples/{n}.aidl")),
        )
        .compile()
        .unwrap_or_else(|e| panic!("{e}"));
}
