//! The `afbus-idl` command: exit codes, diagnostics format, and output.

use std::path::Path;
use std::process::{Command, Output};

fn run(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_afbus-idl"))
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run afbus-idl")
}

fn write(dir: &Path, path: &str, text: &str) {
    let path = dir.join(path);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

#[test]
fn check_accepts_valid_input_with_status_0() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "src/a/IFoo.aidl",
        "package a; import b.Bar; interface IFoo { Bar get(); }",
    );
    write(
        dir.path(),
        "inc/b/Bar.aidl",
        "package b; parcelable Bar { int x; }",
    );
    let out = run(
        dir.path(),
        &["check", "-I", "src", "-I", "inc", "src/a/IFoo.aidl"],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stderr.is_empty());
}

#[test]
fn invalid_input_exits_1_with_every_error_located() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "a/IFoo.aidl",
        "package a;\ninterface IFoo {\n  void f(out int x);\n  @Bogus void g();\n  Missing h();\n}\n",
    );
    let out = run(dir.path(), &["check", "a/IFoo.aidl"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("a/IFoo.aidl:3:10: error: `int` can only be an in parameter\n  "),
        "{err}"
    );
    assert!(
        err.contains("\n    void f(out int x);\n           ^^^\n"),
        "{err}"
    );
    assert!(
        err.contains("a/IFoo.aidl:4:3: error: unknown annotation `@Bogus`"),
        "{err}"
    );
    assert!(
        err.contains("a/IFoo.aidl:5:3: error: cannot find type `Missing`"),
        "{err}"
    );
}

#[test]
fn unreadable_input_and_bad_arguments_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), &["check", "nope/INope.aidl"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read nope/INope.aidl"));
    assert_eq!(run(dir.path(), &["frobnicate"]).status.code(), Some(2));
    assert_eq!(run(dir.path(), &["check"]).status.code(), Some(2));
}

#[test]
fn rust_writes_formatted_code_to_a_directory_or_stdout() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "a/IFoo.aidl",
        "package a; interface IFoo { String echo(String s); }",
    );
    let out = run(dir.path(), &["rust", "a/IFoo.aidl", "-o", "."]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let code = std::fs::read_to_string(dir.path().join("aidl.rs")).unwrap();
    assert!(
        code.contains("pub trait IFoo: Send + Sync + 'static {"),
        "{code}"
    );
    let out = run(dir.path(), &["rust", "a/IFoo.aidl"]);
    assert_eq!(String::from_utf8(out.stdout).unwrap(), code);
    write(
        dir.path(),
        "a/IBad.aidl",
        "package a; interface IBad { void f(in FileDescriptor fd); }",
    );
    let out = run(dir.path(), &["rust", "a/IBad.aidl"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not supported by the Rust back end"));
}
