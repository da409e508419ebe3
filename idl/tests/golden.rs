//! Golden files: the Rust generated for a few representative inputs, compared byte for byte.
//! Set `AFBUS_IDL_BLESS=1` to rewrite the expected files after an intended change.

use std::path::{Path, PathBuf};

use afbus_idl::resolve::RealFs;

fn aidl_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            aidl_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "aidl") {
            out.push(p);
        }
    }
}

fn golden(case: &str) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let input = root.join(case);
    let mut files = Vec::new();
    aidl_files(&input, &mut files);
    // Each file's own package root is its import directory.
    let out = afbus_idl::compile_to_rust(&RealFs, &files, &[]).unwrap();
    let Some(code) = out.code.as_deref() else {
        panic!("{case} does not compile:\n{}", out.render_diagnostics());
    };
    let expected_path = root.join(format!("{case}.rs"));
    if std::env::var_os("AFBUS_IDL_BLESS").is_some_and(|v| v == "1") {
        std::fs::write(&expected_path, code).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&expected_path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run with AFBUS_IDL_BLESS=1)",
            expected_path.display()
        )
    });
    if code != expected {
        let line = code
            .lines()
            .zip(expected.lines())
            .position(|(a, b)| a != b)
            .map_or_else(
                || code.lines().count().min(expected.lines().count()),
                |i| i + 1,
            );
        panic!(
            "{case}: output differs from {} from line {line}; rerun with AFBUS_IDL_BLESS=1 if intended",
            expected_path.display()
        );
    }
}

#[test]
fn echo_interface() {
    golden("echo");
}

#[test]
fn parcelable_enum_and_union_types() {
    golden("types");
}

#[test]
fn directions_ids_binders_and_fds() {
    golden("directions");
}

#[test]
fn frozen_interface_with_version_and_hash() {
    golden("versioned");
}

/// A crate that depends on the `afbus` facade alone names the runtime `::afbus::binder`: every
/// path of the output says so, and the output still parses. (The facade's examples are built
/// this way.)
#[test]
fn the_runtime_crate_path_can_be_the_facades() {
    let mut fs = afbus_idl::resolve::MemoryFs::new();
    fs.add(
        "org/example/IEcho.aidl",
        "package org.example; interface IEcho { String echo(String text); oneway void ping(); }",
    );
    let options = afbus_idl::codegen::rust::RustOptions {
        runtime_crate: "::afbus::binder".into(),
        async_api: true,
        async_feature: Some("tokio".into()),
    };
    let out =
        afbus_idl::compile_to_rust_with(&fs, &["org/example/IEcho.aidl".into()], &[], &options)
            .unwrap();
    let code = out.code.expect("valid input");
    assert!(!code.contains("afbus_binder"), "{code}");
    assert!(code.contains("::afbus::binder::SpIBinder"), "{code}");
    // The async traits name the runtime the same way.
    assert!(code.contains("pub trait IEchoAsync"), "{code}");
    assert!(code.contains("pub trait IEchoAsyncServer"), "{code}");
    assert!(
        code.contains("for ::afbus::binder::tokio::Server<T>"),
        "{code}"
    );
    assert!(code.contains("#[cfg(feature = \"tokio\")]"), "{code}");
    syn::parse_file(&code).expect("parses");
    let bad = afbus_idl::codegen::rust::RustOptions {
        runtime_crate: "not a path!".into(),
        ..Default::default()
    };
    let out = afbus_idl::compile_to_rust_with(&fs, &["org/example/IEcho.aidl".into()], &[], &bad)
        .unwrap();
    assert!(out.code.is_none());
    assert!(out.render_diagnostics().contains("not a path"));
}
