//! Diagnostics: several per run, exact rendering, and a cap on how many one input produces.

use std::path::PathBuf;

use afbus_idl::diagnostics::MAX_DIAGNOSTICS;
use afbus_idl::resolve::MemoryFs;

fn check(text: &str) -> (Vec<(u32, u32, String)>, String) {
    let mut fs = MemoryFs::new();
    fs.add("a/IFoo.aidl", text);
    let c = afbus_idl::compile(&fs, &[PathBuf::from("a/IFoo.aidl")], &[]).unwrap();
    assert!(c.ir.is_none(), "accepted");
    let list = c
        .diagnostics
        .iter()
        .map(|d| (d.span.line, d.span.col, d.message.clone()))
        .collect();
    (list, c.render_diagnostics())
}

#[test]
fn the_parser_recovers_and_reports_each_syntax_error() {
    let (list, _) = check(
        "package a;\ninterface IFoo {\n  void f(int x;\n  void g();\n  int h(String s) = ;\n  void ok();\n}\n",
    );
    let places: Vec<(u32, u32)> = list.iter().map(|(l, c, _)| (*l, *c)).collect();
    assert_eq!(places, [(3, 15), (5, 21)], "{list:?}");
}

#[test]
fn a_diagnostic_renders_path_position_source_and_caret() {
    let (_, rendered) = check("package a;\ninterface IFoo {\n\tvoid f(inout int x);\n}\n");
    assert_eq!(
        rendered,
        "a/IFoo.aidl:3:9: error: `int` can only be an in parameter\n   void f(inout int x);\n          ^^^^^\n"
    );
}

#[test]
fn a_flood_of_errors_is_capped() {
    let text = format!(
        "package a; interface IFoo {{ {} }}",
        "@Bad void f(); ".repeat(1000)
    );
    let (list, _) = check(&text);
    assert_eq!(list.len(), MAX_DIAGNOSTICS);
}
