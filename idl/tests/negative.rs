//! Inputs the AOSP compiler rejects (from the corpus's NEGATIVE.md, written here from each
//! description): each must be rejected with a diagnostic at the right line and column.

use afbus_idl::resolve::MemoryFs;

/// Which compilation a case runs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Parse and resolve only (`afbus-idl check`).
    Check,
    /// Also generate Rust (`afbus-idl rust`).
    Rust,
}

/// One rejected input.
struct Case {
    id: &'static str,
    /// The file compiled: path and text.
    file: (&'static str, &'static str),
    /// Files reachable through the import directories.
    others: &'static [(&'static str, &'static str)],
    /// `-I` directories.
    includes: &'static [&'static str],
    mode: Mode,
    /// Where the expected error points: file, line and column.
    at: (&'static str, u32, u32),
    /// A fragment of its message.
    says: &'static str,
}

const fn case(
    id: &'static str,
    path: &'static str,
    text: &'static str,
    line: u32,
    col: u32,
    says: &'static str,
) -> Case {
    Case {
        id,
        file: (path, text),
        others: &[],
        includes: &[],
        mode: Mode::Check,
        at: (path, line, col),
        says,
    }
}

impl Case {
    const fn others(mut self, others: &'static [(&'static str, &'static str)]) -> Case {
        self.others = others;
        self
    }

    const fn includes(mut self, includes: &'static [&'static str]) -> Case {
        self.includes = includes;
        self
    }

    const fn rust(mut self) -> Case {
        self.mode = Mode::Rust;
        self
    }

    /// Runs the case; `Err` says how it failed.
    fn run(&self) -> Result<(), String> {
        let mut fs = MemoryFs::new();
        fs.add(self.file.0, self.file.1);
        for (p, t) in self.others {
            fs.add(*p, *t);
        }
        let includes: Vec<_> = self.includes.iter().map(Into::into).collect();
        let out = afbus_idl::compile_to_rust(&fs, &[self.file.0.into()], &includes)
            .map_err(|e| format!("could not run: {e}"))?;
        let rendered = out.render_diagnostics();
        if self.mode == Mode::Check
            && out
                .diagnostics
                .iter()
                .all(|d| d.message.contains("Rust back end"))
        {
            return Err(format!("accepted by the front end\n{rendered}"));
        }
        if out.code.is_some() {
            return Err("accepted".to_string());
        }
        let (path, line, col) = self.at;
        let hit = out.diagnostics.iter().any(|d| {
            out.sources.path(d.span.file) == std::path::Path::new(path)
                && (d.span.line, d.span.col) == (line, col)
                && d.message.contains(self.says)
        });
        if hit {
            Ok(())
        } else {
            Err(format!(
                "no error at {path}:{line}:{col} saying {:?}; got:\n{rendered}",
                self.says
            ))
        }
    }
}

const ENUM_P: &[(&str, &str)] = &[("p/Enum.aidl", "package p; enum Enum { FOO = 1, BAR = 2 }")];

const CASES: &[Case] = &[
    // A. Document structure, file layout, names, imports.
    case("A01", "a/Foo.aidl", "package a; interface IBar {}", 1, 22, "file named `IBar.aidl`"),
    case("A02", "a/Foo.aidl", "package a; interface Bar {}", 1, 22, "file named `Bar.aidl`"),
    case("A03", "a/Foo.aidl", "package a; parcelable Bar cpp_header \"anything.h\";", 1, 23, "file named"),
    case("A04", "a/Foo.aidl", "package a; enum Bar { A, }", 1, 17, "file named"),
    case("A05", "p/IFoo.aidl", "package p;\ninterface IFoo {}\nparcelable IBar {}\n", 3, 12, "exactly one top-level type"),
    case("A06", "foo/bar/IFoo1.aidl", "package foo.bar;\ninterface IFoo1 { int foo(); }\ninterface IFoo2 { int foo(); }\n", 3, 11, "exactly one"),
    case("A07", "p/IFoo.aidl", "package p;\n", 2, 1, "expected a type declaration"),
    case("A08", "a/IFoo.aidl", "", 1, 1, "expected a type declaration"),
    case("A09", "p/IFoo.aidl", "package p.; parcelable A;", 1, 10, "expected `;`"),
    case("A10", "p/IFoo.aidl", "package p; parcelable A.;", 1, 24, "expected `;`"),
    case("A11", "a/Foo.aidl", "package a; parcelable a.Foo {}", 1, 24, "only an unstructured parcelable may have a dotted name"),
    case("A13", "p/IFoo.aidl", "package p;\ninterface IFoo {\n  parcelable;\n}\n", 3, 13, "expected a type name"),
    case("A14", "a/Bar.aidl", "package a; parcelable Bar { List[]<String> a; }", 1, 35, "expected a name"),
    case("A15", "p/Foo.aidl", "package p; parcelable Foo { int[] a = { , }; }", 1, 41, "expected a constant expression"),
    case("A16", "p/IFoo.aidl", "package p; import p.Outer; interface IFoo { void f(in Inner c); }", 1, 55, "cannot find type `Inner`")
        .others(&[("p/Outer.aidl", "package p; parcelable Outer.Inner;")]),
    case("A17", "p/IFoo.aidl", "package p; import q.IBar; interface IFoo{}", 1, 19, "ambiguous")
        .others(&[("dir1/q/IBar.aidl", "package q; interface IBar{}"), ("dir2/q/IBar.aidl", "package q; interface IBar{}")])
        .includes(&[".", "dir1", "dir2"]),
    case("A18", "some/dir/pkg/name/IFoo.aidl", "package pkg.name; interface IFoo { void foo(); }", 1, 9, "not an import directory")
        .includes(&["some", "other"]),
    case("A19", "Bar.aidl", "enum Bar { CONST = IFoo.NONE }", 1, 20, "cannot find constant `IFoo.NONE`")
        .others(&[("IFoo.aidl", "interface IFoo {}")]),
    case("A-import", "p/IFoo.aidl", "package p; import q.Missing; interface IFoo {}", 1, 19, "cannot find import `q.Missing`"),
    case("A-type", "p/IFoo.aidl", "package p; interface IFoo { void f(in Missing m); }", 1, 39, "cannot find type `Missing`"),
    // B. Annotations.
    case("B01", "a/IFoo.aidl", "package a; @Unknown interface IFoo { }", 1, 12, "unknown annotation `@Unknown`"),
    case("B01b", "a/IFoo.aidl", "package a; @Unknown(param=true) interface IFoo { }", 1, 12, "unknown annotation"),
    case("B02", "a/IFoo.aidl", "package a; @nullable interface IFoo { int f(); }", 1, 12, "not allowed on an interface"),
    case("B03", "a/IFoo.aidl", "package a; interface IFoo { @JavaOnlyStableParcelable int f(); }", 1, 29, "not allowed"),
    case("B04", "a/Foo.aidl", "package a; @nullable parcelable Foo { String a; String b; }", 1, 12, "not allowed on a parcelable"),
    case("B05", "a/IFoo.aidl", "package a; interface IFoo { @UnsupportedAppUsage(foo=1, foo=2)void f(); }", 1, 50, "has no parameter `foo`"),
    case("B05b", "a/IFoo.aidl", "package a; interface IFoo { @UnsupportedAppUsage(trackingBug=1, trackingBug=2)void f(); }", 1, 50, "is repeated"),
    case("B06", "a/Foo.aidl", "package a; @JavaDerive(blah=true) parcelable Foo{}", 1, 24, "has no parameter `blah`"),
    case("B06b", "a/IFoo.aidl", "package a; @JavaDerive interface IFoo{}", 1, 12, "not allowed on an interface"),
    case("B07", "p/TestEnum.aidl", "package p;\n@Backing(foo=\"byte\")\nenum TestEnum { FOO = 1, BAR, }\n", 2, 10, "has no parameter `foo`"),
    case("B08", "Enum.aidl", "@Backing enum Enum { FOO }", 1, 1, "needs the parameter `type`"),
    case("B09", "p/TestEnum.aidl", "package p;\n@Backing(type=\"boolean\")\nenum TestEnum { FOO = 0, BAR = 1, }\n", 2, 1, "must be \"byte\", \"int\" or \"long\""),
    case("B10", "a/IFoo.aidl", "package a;\ninterface IFoo {\n    @EnforcePermission()\n    void Protected();\n}\n", 3, 5, "needs a permission"),
    case("B11", "a/IFoo.aidl", "package a;\n@EnforcePermission(\"INTERNET\")\ninterface IFoo {\n    @EnforcePermission(\"SYSTEM_UID\")\n    void Protected();\n}\n", 4, 5, "already has a permission"),
    case("B12", "a/IFoo.aidl", "package a;\n@RequiresNoPermission\ninterface IFoo {\n    @EnforcePermission(\"INTERNET\")\n    void Protected();\n}\n", 4, 5, "already has a permission"),
    case("B14", "a/IFoo.aidl", "package a;\n@EnforcePermission(\"INTERNET\")\ninterface IFoo {\n    @RequiresNoPermission\n    void Protected();\n}\n", 4, 5, "already has a permission"),
    case("B13", "a/IFoo.aidl", "package a;\n@PermissionManuallyEnforced\ninterface IFoo {\n    @EnforcePermission(\"INTERNET\")\n    void Protected();\n}\n", 4, 5, "already has a permission"),
    case("B15", "a/IFoo.aidl", "package a;\n@EnforcePermission(\"INTERNET\")\ninterface IFoo {\n    @PermissionManuallyEnforced\n    void Protected();\n}\n", 4, 5, "already has a permission"),
    case("B16", "IFoo.aidl", "interface IFoo {\n  void foo(in @SuppressWarnings(value={\"inout-parameter\"}) int x);\n}\n", 2, 15, "not allowed on an argument"),
    case("B17", "p/IFoo.aidl", "package p; interface IFoo {\n  const String ANNOTATION = \"@Annotation\";\n  @JavaPassthrough(annotation=ANNOTATION) void foo();\n}\n", 3, 31, "constant literals"),
    case("B18", "a/Bar.aidl", "package a; parcelable Bar { String @nullable [] a; }", 1, 36, "expected a name"),
    case("B19", "a/Bar.aidl", "package a; parcelable Bar { List<@nullable String> a; }", 1, 34, "type argument cannot be annotated"),
    case("B20", "a/IFoo.aidl", "package a; interface IFoo { @nullable int f(); }", 1, 39, "primitive type cannot be @nullable"),
    case("B20b", "a/Target.aidl", "package a; parcelable Target { @nullable p.Enum f; }", 1, 42, "enum type cannot be @nullable")
        .others(&[("p/Enum.aidl", "package p; enum Enum { A }")]),
    case("B21", "Foo.aidl", "parcelable Foo {\n  @nullable(heap=true) String s;\n}\n", 2, 24, "heap=true"),
    case("B22", "Foo.aidl", "parcelable Foo { @nullable ParcelableHolder ext; }", 1, 28, "ParcelableHolder cannot be @nullable"),
    case("B23", "Foo.aidl", "@RustDerive(PartialEq=true)\nparcelable Foo {\n  parcelable Bar {}\n  Bar bar;\n}\n", 4, 3, "must have `@RustDerive(PartialEq=true)`"),
    // C. Methods and arguments.
    case("C01", "a/IBaz.aidl", "package a; interface IBaz { void f(out IBinder bar); }", 1, 36, "can only be an in parameter"),
    case("C02", "a/IBar.aidl", "package a; oneway interface IBar { void f(out int[] bar); }", 1, 43, "oneway method cannot have out"),
    case("C03", "a/IBar.aidl", "package a; interface IBar { oneway void f(out int[] bar); }", 1, 43, "oneway method cannot have out"),
    case("C04", "a/IFoo.aidl", "package a; interface IFoo { oneway int f(); }", 1, 36, "oneway method cannot return"),
    case("C05", "a/IFoo.aidl", "package a; interface IFoo { void f(int a, int a); }", 1, 47, "argument `a` is declared twice"),
    case("C06", "p/IFoo.aidl", "package p;interface IFoo{  void foo(out ParcelFileDescriptor fd);}", 1, 37, "but not `out`"),
    case("C07", "p/IFoo.aidl", "package p;interface IFoo{  void foo(ParcelFileDescriptor fd);}", 1, 37, "must declare it as in, out or inout"),
    case("C07b", "p/IFoo.aidl", "package p;interface IFoo{  void foo(int[] a);}", 1, 37, "must declare it as in, out or inout"),
    case("C08", "a/IFoo.aidl", "package a; interface IFoo {\n  ParcelableHolder foo();\n}\n", 2, 3, "only be a field"),
    case("C09", "a/IFoo.aidl", "package a; interface IFoo {\n  void foo(in ParcelableHolder ph);\n}\n", 2, 15, "only be a field"),
    case("C10", "p/IFoo.aidl", "package p; interface IFoo{ void j(void n);}", 1, 35, "only a return type"),
    case("C11", "p/IFoo.aidl", "package p; interface IFoo {int getInterfaceVersion(); }", 1, 32, "reserved"),
    case("C12", "p/IFoo.aidl", "package p; interface IFoo {boolean getInterfaceVersion(); }", 1, 36, "reserved"),
    case("C13", "p/IFoo.aidl", "package p; interface IFoo {String getTransactionName(int code); }", 1, 35, "reserved"),
    case("C14", "IFoo.aidl", "interface IFoo {\n  void foo() = 3;\n  void bar() = 3;\n}\n", 3, 16, "used twice"),
    case("C15", "IFoo.aidl", "interface IFoo {\n  void foo() = 3;\n  void bar() = 16777115;\n}\n", 3, 16, "is outside"),
    case("C16", "IFoo.aidl", "interface IFoo {\n  void foo() = 3;\n  void bar();\n}\n", 3, 8, "either every method"),
    case("C16b", "foo/bar/IFoo.aidl", "package foo.bar;\ninterface IFoo {\n    int foo() = 1;\n    int bar();\n    int baz() = 10;\n}\n", 4, 9, "either every method"),
    case("C20", "a/IFoo.aidl", "package a; interface IFoo { void f(out int x); }", 1, 36, "can only be an in parameter"),
    case("C20b", "a/IFoo.aidl", "package a; interface IFoo { void f(inout String x); }", 1, 36, "can only be an in parameter"),
    case("C-dup", "a/IFoo.aidl", "package a; interface IFoo { void f(); void f(int x); }", 1, 44, "declared twice"),
    // D. Types, generics, arrays, backend-specific types.
    case("D01", "a/Foo.aidl", "package a; parcelable Foo { List<String>[] lists; }", 1, 29, "cannot be an array element"),
    case("D02", "a/IFoo.aidl", "package a; interface IFoo {\n  List foo(); }", 2, 3, "exactly one type argument"),
    case("D03", "p/IFoo.aidl", "package p; interface IFoo {void foo(List<String, String> a);}", 1, 37, "exactly one type argument"),
    case("D03b", "p/IFoo.aidl", "package p; interface IFoo {void foo(Map<String> a);}", 1, 37, "no type arguments or two"),
    case("D04", "p/IFoo.aidl", "package p; interface IFoo {Map<p.Bar, p.Bar> foo();}", 1, 32, "key type must be String")
        .others(&[("p/Bar.aidl", "package p; parcelable Bar { String s; }")]),
    case("D05", "p/IFoo.aidl", "package p; interface IFoo {String<String> foo(); }", 1, 28, "takes no type arguments"),
    case("D06a", "p/Bar.aidl", "package p; parcelable Bar<T, T>;", 1, 30, "declared twice"),
    case("D06b", "p/IFoo.aidl", "package p; interface IFoo {p.Bar<String, String> foo();}", 1, 28, "takes 0 type arguments")
        .others(&[("p/Bar.aidl", "package p; parcelable Bar;")]),
    case("D06c", "p/IFoo.aidl", "package p; interface IFoo {p.Bar<String, String> foo();}", 1, 28, "takes 1 type arguments")
        .others(&[("p/Bar.aidl", "package p; parcelable Bar<T>;")]),
    case("D07", "Foo.aidl", "parcelable Foo<T,T> { int a; int A; }", 1, 18, "declared twice"),
    case("D08", "Foo.aidl", "parcelable Foo<T> { T a; int A; }", 1, 21, "type parameter cannot be the type of a field"),
    case("D09", "a/Bar.aidl", "package a; parcelable Bar { List<String><String> a; }", 1, 41, "expected a name"),
    case("D10", "a/Bar.aidl", "package a; parcelable Bar { String[2][] a; }", 1, 29, "must have fixed sizes"),
    case("D11", "a/Bar.aidl", "package a; parcelable Bar { String[][3] a; }", 1, 29, "must have fixed sizes"),
    case("D12", "a/Bar.aidl", "package a; parcelable Bar { String[][] a; }", 1, 29, "must have fixed sizes"),
    case("D13", "a/Bar.aidl", "package a; parcelable Bar { String[-1] a; }", 1, 36, "array size"),
    case("D14", "a/Bar.aidl", "package a; parcelable Bar { String[\"3\"] a; }", 1, 36, "array size"),
    case("D15", "a/Bar.aidl", "package a;\nparcelable Bar {\n  int[2][3] a = {{\"1\",\"2\",\"3\"}, {4,5,6}};\n}\n", 3, 17, "not a valid `int` value"),
    case("D16", "a/Bar.aidl", "package a;\nparcelable Bar {\n  int[2][3] a = {{1,2,3,4}, {4,5,6}};\n}\n", 3, 17, "has 4 elements, not 3"),
    case("D17", "a/Bar.aidl", "package a;\nparcelable Bar {\n  int[2][3] a = {};\n}\n", 3, 17, "has 0 elements, not 2"),
    case("D18", "a/Target.aidl", "package a; parcelable Target { List<int> f; }", 1, 37, "cannot hold a primitive"),
    case("D18b", "a/Target.aidl", "package a; parcelable Target { List<p.Enum> f; }", 1, 37, "cannot hold an enum")
        .others(&[("p/Enum.aidl", "package p; enum Enum { A }")]),
    case("D18c", "a/Target.aidl", "package a; parcelable Target { List<String[]> f; }", 1, 37, "cannot hold an array"),
    case("D20", "a/Foo.aidl", "package a; union Foo { List l; Map m; }", 1, 24, "exactly one type argument"),
    case("D21", "a/Foo.aidl", "package a; parcelable Foo { Map m; }", 1, 29, "untyped `Map`"),
    case("D22", "a/Foo.aidl", "package a; import a.Bar; parcelable Foo { Bar<List> a; }", 1, 47, "exactly one type argument")
        .others(&[("a/Bar.aidl", "package a; parcelable Bar<T>;")]),
    case("D22b", "a/Foo.aidl", "package a; import a.Bar; parcelable Foo { Bar<Map> b; }", 1, 47, "untyped `Map`")
        .others(&[("a/Bar.aidl", "package a; parcelable Bar<T>;")]),
    case("D23", "o/Foo.aidl", "package o; parcelable Foo cpp_header \"cpp/Foo.h\";", 1, 23, "not supported by the Rust back end").rust(),
    case("D28", "p/IFoo.aidl", "package p; interface IFoo { void f(in FileDescriptor fd); }", 1, 39, "not supported by the Rust back end").rust(),
    case("D29", "p/IFoo.aidl", "package p; interface IFoo { Map<String, String> f(); }", 1, 29, "not supported by the Rust back end").rust(),
    case("D29b", "p/IFoo.aidl", "package p; interface IFoo { void f(CharSequence s); }", 1, 36, "not supported by the Rust back end").rust(),
    case("D30", "p/Foo.aidl", "package p; parcelable Foo { @utf8InCpp int a; }", 1, 29, "only applies to String"),
    // E. Parcelables, unions, enums, nesting, recursion.
    case("E01", "Foo.aidl", "parcelable Foo { Foo foo; }", 1, 12, "contains itself"),
    case("E02", "Foo.aidl", "parcelable Foo { Bar bar; }", 1, 12, "contains itself")
        .others(&[("Bar.aidl", "parcelable Bar { Foo foo; }")]),
    case("E03", "Foo.aidl", "parcelable Foo { Bar bar; }", 1, 12, "contains itself")
        .others(&[("Bar.aidl", "parcelable Bar { @nullable Foo foo; }")]),
    case("E04", "a/Foo.aidl", "package a; parcelable Foo { int a; String a; }", 1, 43, "declared twice"),
    case("E08", "a/Foo.aidl", "package a; union Foo {}", 1, 18, "at least one member"),
    case("E09", "a/Foo.aidl", "package a; union Foo { ParcelableHolder x; }", 1, 24, "cannot hold a ParcelableHolder"),
    case("E10", "a/Foo.aidl", "package a; union Foo { a.Enum e; }", 1, 24, "needs a default value")
        .others(&[("a/Enum.aidl", "package a; enum Enum { FOO, BAR }")]),
    case("E11", "Foo.aidl", "@FixedSize parcelable Foo {\n  int[] a;\n  int ok;\n}\n", 2, 3, "not fixed-size"),
    case("E11b", "Foo.aidl", "@FixedSize parcelable Foo {\n  int ok;\n  @nullable OtherFixed n;\n}\n", 3, 13, "not fixed-size")
        .others(&[("OtherFixed.aidl", "@FixedSize parcelable OtherFixed { int a; }")]),
    case("E12", "Foo.aidl", "@FixedSize union Foo {\n  int ok;\n  String s;\n}\n", 3, 3, "not fixed-size"),
    case("E13", "p/Foo.aidl", "package p;\nparcelable Foo {\n  parcelable Foo {}\n}\n", 3, 14, "same name as its parent"),
    case("E14", "p/IFoo.aidl", "package p;\ninterface IFoo {\n  parcelable Bar cpp_header \"Bar.h\";\n}\n", 3, 14, "cannot be nested"),
    case("E15", "p/Foo.aidl", "package p;\nparcelable Foo<T> {\n  parcelable Bar {}\n}\n", 3, 14, "generic type cannot have nested types"),
    case("E16", "p/Foo.aidl", "package p;\ninterface Foo {\n  parcelable Bar {}\n  parcelable Bar {}\n}\n", 4, 14, "defined twice"),
    case("E17", "foo/A.aidl", "package foo;\nparcelable A {\n  parcelable B {\n    parcelable A {\n      parcelable B {\n      }\n      B.A m;\n    }\n  }\n}\n", 7, 7, "cannot find type `B.A`"),
    case("E21", "p/Foo.aidl", "package p;\nimport p.Enum;\nparcelable Foo {\n  Enum e = Enum.FOO | Enum.BAR;\n}\n", 4, 12, "must be one of its enumerators").others(ENUM_P),
    case("E22", "p/Foo.aidl", "package p;\nimport p.Enum;\nparcelable Foo {\n  Enum e = 1;\n}\n", 4, 12, "must be one of its enumerators").others(ENUM_P),
    // F. Constants, literals, constant expressions.
    case("F01", "p/IFoo.aidl", "package p;\ninterface IFoo {\n  const String DUPLICATED = \"d\";\n  const int DUPLICATED = 1;\n}\n", 4, 13, "declared twice"),
    case("F02", "p/IFoo.aidl", "package p; interface IFoo { const int UNDERSCORE_USER = 1__0; }", 1, 57, "invalid integer literal"),
    case("F03", "p/IFoo.aidl", "package p; interface IFoo { const int UNDERSCORE_USER = 0xFF_L; }", 1, 57, "invalid integer literal"),
    case("F04", "p/IFoo.aidl", "package p; interface IFoo { const int UNDERSCORE_USER = 10_; }", 1, 57, "invalid integer literal"),
    case("F05", "p/IFoo.aidl", "package p; interface IFoo { const int UNDERSCORE_USER = _10; }", 1, 57, "cannot find constant `_10`"),
    case("F06", "p/IFoo.aidl", "package p; interface IFoo { const String someVar = \"test\\\"test\"; }", 1, 52, "backslashes are not allowed"),
    case("F07", "Foo.aidl", "parcelable Foo { char a = '\u{0}'; char b = '\t'; }", 1, 27, "control characters"),
    case("F08", "p/IFoo.aidl", "package p; interface IFoo { const byte type2small = 256; }", 1, 53, "does not fit in `byte`"),
    case("F09", "a/IFoo.aidl", "package a; interface IFoo { const byte INT_VALUE = 0xFF; }", 1, 52, "0xFFu8"),
    case("F10", "p/IFoo.aidl", "package p; interface IFoo { const int BAD_HEX_VALUE = 0xffffffffffffffffff; }", 1, 55, "invalid integer literal"),
    case("F11", "a/IFoo.aidl", "package a; interface IFoo { const float DOUBLE_VALUE = 1.1; }", 1, 56, "`double` value is not a valid `float`"),
    case("F12", "a/IFoo.aidl", "package a; interface IFoo { const float INT_VALUE = 1; }", 1, 53, "not a valid `float` value"),
    case("F13", "a/IFoo.aidl", "package a; interface IFoo { const int FLOAT_VALUE = 1.1f; }", 1, 53, "not a valid `int` value"),
    case("F14", "a/IFoo.aidl", "package a; interface IFoo { const double INT_VALUE = 1; }", 1, 54, "not a valid `double` value"),
    case("F15", "a/IFoo.aidl", "package a; interface IFoo { const int DOUBLE_VALUE = 1.1; }", 1, 54, "not a valid `int` value"),
    case("F16", "a/IFoo.aidl", "package a; interface IFoo { const float FLOAT_VALUE = 1.1f + 1; }", 1, 55, "cannot be applied"),
    case("F17", "a/IFoo.aidl", "package a; interface IFoo { const float FLOAT_VALUE = 1 + 1.1f; }", 1, 55, "cannot be applied"),
    case("F18", "a/IFoo.aidl", "package a; interface IFoo { const double DOUBLE_VALUE = 1.1 + 1; }", 1, 57, "cannot be applied"),
    case("F19", "a/IFoo.aidl", "package a; interface IFoo { const double DOUBLE_VALUE = 1 + 1.1; }", 1, 57, "cannot be applied"),
    case("F20a", "a/IFoo.aidl", "package a; interface IFoo { const float DOUBLE_VALUE = 1e50f; }", 1, 56, "out of range"),
    case("F20b", "a/IFoo.aidl", "package a; interface IFoo { const double DOUBLE_VALUE = 1e310; }", 1, 57, "out of range"),
    case("F21", "p/IFoo.aidl", "package p; interface IFoo { const int uint32_max_oob = 4294967300u32; }", 1, 56, "invalid integer literal"),
    case("F22", "p/IFoo.aidl", "package p; interface IFoo { const long uint64_max_oob = 18446744073709551620u64; }", 1, 57, "invalid integer literal"),
    case("F23", "p/IFoo.aidl", "package p; interface IFoo { const int uint32_max_oob = 0xfffffffffu32; }", 1, 56, "invalid integer literal"),
    case("F24", "p/IFoo.aidl", "package p; interface IFoo { const int uint64_max_oob = 0xfffffffffffffffffu64; }", 1, 56, "invalid integer literal"),
    case("F25a", "p/IFoo.aidl", "package p; interface IFoo { const int int32_max_oob = 2147483650; }", 1, 55, "2147483650u32"),
    case("F25b", "p/IFoo.aidl", "package p; interface IFoo { const int int32_min_oob = -2147483650; }", 1, 55, "does not fit in `int`"),
    case("F26", "p/IFoo.aidl", "package p; interface IFoo { const long int64_max_oob = 21474836509999999999999999; }", 1, 56, "invalid integer literal"),
    case("F27", "p/TestEnum.aidl", "package p;\n@Backing(type=\"byte\")\nenum TestEnum {\n  FOO = 127,\n  BAR,\n}\n", 5, 3, "does not fit in `byte`"),
    case("F28a", "p/Foo.aidl", "package p; enum Foo { A = B, B }", 1, 27, "later enumerator"),
    case("F28b", "p/Foo.aidl", "package p; parcelable Foo { const int A = A + 1; }", 1, 43, "refers to itself"),
    case("F28c", "Foo.aidl", "enum Foo { A = Foo.A }", 1, 16, "later enumerator"),
    case("F28d", "Foo.aidl", " parcelable Foo { int field = UNKNOWN_REF; }", 1, 31, "cannot find constant `UNKNOWN_REF`"),
    case("F28e", "Foo.aidl", " parcelable Foo { int[] field = {} - {1,2}; }", 1, 33, "cannot be applied to an array"),
    case("F-div", "p/IFoo.aidl", "package p; interface IFoo { const int X = 1 / 0; }", 1, 43, "division by zero"),
    case("F-shift", "p/IFoo.aidl", "package p; interface IFoo { const int X = 1 << 40; }", 1, 43, "out of range"),
];

#[test]
fn every_negative_case_is_rejected_at_the_right_place() {
    let failures: Vec<String> = CASES
        .iter()
        .filter_map(|c| c.run().err().map(|e| format!("{}: {e}", c.id)))
        .collect();
    eprintln!(
        "negative cases: {} of {} rejected as expected",
        CASES.len() - failures.len(),
        CASES.len()
    );
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
