//! The IDL compiler: parse, resolve and generate Rust for one AIDL file (beside a helper file it
//! may import), then render the diagnostics, whose spans may point anywhere.

use std::path::PathBuf;

use afbus_idl::resolve::MemoryFs;

/// This target.
pub const TARGET: crate::Target = crate::Target {
    name: "idl",
    run: target,
    seeds,
    dictionary: DICTIONARY,
};

/// Keywords and punctuation of AIDL.
pub const DICTIONARY: &[&[u8]] = &[
    b"interface ",
    b"parcelable ",
    b"enum ",
    b"union ",
    b"oneway ",
    b"const ",
    b" in ",
    b" out ",
    b" inout ",
    b"import a.Bar;",
    b"package a;",
    b"@nullable ",
    b"@nullable(heap=true) ",
    b"@Backing(type=\"long\")",
    b"List<",
    b"Map<String, ",
    b">",
    b"[]",
    b"[2]",
    b"{",
    b"}",
    b"(",
    b")",
    b";",
    b",",
    b" = ",
    b"1 << 63",
    b"0xFFFFFFFFFFFFFFFFFF",
    b"'a'",
    b"\"s\"",
    b"/**",
    b"*/",
    b"IBinder ",
    b"ParcelFileDescriptor ",
    b"Bar.E.A",
    b"String ",
    b"int ",
];

/// Runs one input.
pub fn target(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut fs = MemoryFs::new();
    fs.add("a/IFoo.aidl", text.into_owned());
    fs.add(
        "a/Bar.aidl",
        "package a; parcelable Bar { enum E { A, B } }",
    );
    // Memory files are always readable; anything else would be a bug.
    let out = afbus_idl::compile_to_rust(&fs, &[PathBuf::from("a/IFoo.aidl")], &[])
        .expect("memory files are readable");
    let _ = out.render_diagnostics();
}

/// Valid AIDL of every shape the compiler knows.
pub fn seeds() -> Vec<Vec<u8>> {
    [
        "package a; interface IFoo { const int X = 1 << 3 | 0x10; int f(in int[] a, out String[] b); oneway void g(IFoo cb); }",
        "package a; import a.Bar; parcelable IFoo { int a = 1; @nullable String s; List<IFoo> l; Bar.E e = Bar.E.A; @nullable(heap=true) IFoo next; }",
        "package a; @Backing(type=\"byte\") enum IFoo { A, B = A + 2, C }",
        "package a; union IFoo { int i = 3; String s; int[2][3] m; }",
        "package a; parcelable IFoo<T, U> { T t; U u; }",
        "package a; parcelable IFoo cpp_header \"x.h\" rust_type \"crate::X\";",
        "package a; interface IFoo { parcelable Inner { int x; } enum E { A } void f(in Inner i, E e); }",
        "package a;\n/** Doc. */\ninterface IFoo {\n    @nullable String f(in @nullable IBinder b, in ParcelFileDescriptor fd);\n    const String S = \"a\" + \"b\";\n    const long L = -1L;\n    const char C = 'c';\n}\n",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect()
}
