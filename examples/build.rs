//! Compiles the examples' AIDL into Rust (`$OUT_DIR/aidl.rs`).

fn main() {
    // The examples name the runtime through the facade, as a crate that depends on `afbus`
    // alone does.
    afbus_idl::Builder::new()
        .runtime_crate("::afbus::binder")
        // IFooAsync and IFooAsyncServer too (async_quickstart), for the facade's `tokio` feature.
        .async_api(true)
        .include_dir("aidl")
        .files(
            ["IEcho", "IProgress", "IWorker", "IPriority", "IFiles"]
                .map(|n| format!("aidl/afbus/examples/{n}.aidl")),
        )
        .compile()
        .unwrap_or_else(|e| panic!("{e}"));
}
