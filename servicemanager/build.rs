//! Generates IServiceManager, IServiceCallback and ServiceDebugInfo from `aidl/`.

fn main() {
    afbus_idl::Builder::new()
        .include_dir("aidl")
        .files(
            ["IServiceManager", "IServiceCallback", "ServiceDebugInfo"]
                .map(|n| format!("aidl/afbus/{n}.aidl")),
        )
        .compile()
        .unwrap_or_else(|e| panic!("{e}"));
}
