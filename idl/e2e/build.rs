//! Compiles the test interfaces in `aidl/` with afbus-idl.

fn main() {
    let files = [
        "ITestService.aidl",
        "ICallback.aidl",
        "Everything.aidl",
        "Point.aidl",
        "Kind.aidl",
        "Shape.aidl",
        "FdHolder.aidl",
        "IConformance.aidl",
    ];
    afbus_idl::Builder::new()
        .include_dir("aidl")
        .async_api(true)
        .files(files.iter().map(|f| format!("aidl/org/afbus/test/{f}")))
        .compile()
        .unwrap_or_else(|e| panic!("{e}"));

    // Corner cases (nested types, keywords, generics, union tags, constant expressions) and
    // the golden-file inputs, so that the Rust checked in as golden output is known to compile.
    let mut extra = afbus_idl::Builder::new()
        .include_dir("aidl")
        .output_name("extra.rs")
        .files(
            ["GenericBox", "INested", "Keywords", "Extendable"]
                .iter()
                .map(|f| format!("aidl/org/afbus/extra/{f}.aidl")),
        );
    for (case, files) in [
        ("echo", &["IEcho"][..]),
        ("types", &["Config", "Mode", "Value"][..]),
        ("directions", &["IStore", "IWatcher", "Item"][..]),
    ] {
        let root = format!("../tests/golden/{case}");
        extra = extra.include_dir(&root);
        for f in files {
            extra = extra.file(format!("{root}/org/example/{f}.aidl"));
        }
    }
    let frozen = "../tests/golden/versioned/aidl_api/example-iface/2";
    extra = extra
        .include_dir(frozen)
        .file(format!("{frozen}/org/example/IVersioned.aidl"));
    extra.compile().unwrap_or_else(|e| panic!("{e}"));
}
