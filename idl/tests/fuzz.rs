//! Hostile input: random mutations of real AIDL, and pathological shapes (deep nesting, long
//! operator chains, huge literals). The compiler must never panic or overflow its stack; every
//! input ends in output or diagnostics.

use std::path::{Path, PathBuf};

use afbus_idl::resolve::MemoryFs;

/// A small deterministic generator (xorshift64*), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Fragments that steer mutations towards interesting syntax.
const PIECES: &[&str] = &[
    "interface",
    "parcelable",
    "enum",
    "union",
    "oneway",
    "const",
    "in",
    "out",
    "inout",
    "import",
    "package",
    "@nullable",
    "@Backing(type=\"long\")",
    "@nullable(heap=true)",
    "@Descriptor(value=\"x\")",
    "@RustDerive(Clone=true)",
    "@Unknown",
    "List<",
    ">",
    ">>",
    "<<",
    "[]",
    "[3]",
    "[-1]",
    "{",
    "}",
    "(",
    ")",
    ";",
    ",",
    "=",
    "?",
    ":",
    "0x",
    "0xFFFFFFFFFFFFFFFFFF",
    "1L",
    "255u8",
    "1__0",
    "'a'",
    "'",
    "\"s\"",
    "\"",
    "/**",
    "*/",
    "//",
    "/*",
    "IBinder",
    "ParcelFileDescriptor",
    "FileDescriptor",
    "Map<String,",
    "String",
    "int",
    "void",
    "T",
    "Foo.Bar",
    "a.b.C",
    "= 3",
    "= 16777115",
    "1.5f",
    "1e400",
    "-",
    "~",
    "!",
    "&&",
    "||",
    "\u{0}",
    "é",
    "\t",
    "\n",
];

const SAMPLES: &[&str] = &[
    "package a; interface IFoo { const int X = 1 << 3 | 0x10; int f(in int[] a, out String[] b); oneway void g(IFoo cb); }",
    "package a; parcelable Foo { int a = 1; @nullable String s; List<Foo> l; Bar.E e = Bar.E.A; @nullable(heap=true) Foo next; }",
    "package a; @Backing(type=\"byte\") enum E { A, B = A + 2, C }",
    "package a; union U { int i = 3; String s; int[2][3] m; }",
    "package a; parcelable P<T, U> { T t; U u; }",
    "package a; parcelable Un cpp_header \"x.h\" rust_type \"crate::X\";",
    "package a; interface INest { parcelable Inner { int x; } enum E { A } void f(in Inner i, E e); }",
];

fn seeds() -> Vec<String> {
    let mut out: Vec<String> = SAMPLES.iter().map(|s| s.to_string()).collect();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("e2e/aidl/org/afbus/test");
    if let Ok(entries) = std::fs::read_dir(&dir) {
        for e in entries.flatten() {
            if let Ok(text) = std::fs::read_to_string(e.path()) {
                out.push(text);
            }
        }
    }
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/idl/corpus/aosp-system-tools-aidl/tests/android/aidl/tests");
    match std::fs::read_dir(&corpus) {
        Ok(entries) => {
            for e in entries.flatten().take(40) {
                if let Ok(text) = std::fs::read_to_string(e.path()) {
                    out.push(text);
                }
            }
        }
        Err(_) => eprintln!("note: shared corpus absent; fuzzing the built-in samples only"),
    }
    out
}

fn mutate(rng: &mut Rng, text: &str) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(chars.len() + 1);
        match rng.below(5) {
            0 if !chars.is_empty() => {
                let end = (at + rng.below(20)).min(chars.len());
                chars.drain(at.min(end)..end);
            }
            1 | 2 => {
                let piece = PIECES[rng.below(PIECES.len())];
                chars.splice(at..at, piece.chars());
            }
            3 if !chars.is_empty() => {
                let start = rng.below(chars.len());
                let end = (start + rng.below(40)).min(chars.len());
                let copy: Vec<char> = chars[start..end].to_vec();
                chars.splice(at..at, copy);
            }
            _ => chars.truncate(at),
        }
    }
    chars.into_iter().collect()
}

/// Compiles `text` as `a/IFoo.aidl` beside a helper file; panics propagate to the test.
fn compile(text: &str) {
    let mut fs = MemoryFs::new();
    fs.add("a/IFoo.aidl", text);
    fs.add(
        "a/Bar.aidl",
        "package a; parcelable Bar { enum E { A, B } }",
    );
    let out = afbus_idl::compile_to_rust(&fs, &[PathBuf::from("a/IFoo.aidl")], &[])
        .expect("memory files are always readable");
    // Rendering must not panic either (spans may point anywhere).
    let _ = out.render_diagnostics();
}

#[test]
fn random_mutations_never_panic() {
    let seeds = seeds();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut inputs = 0;
    for round in 0..1500 {
        let seed = &seeds[round % seeds.len()];
        let input = mutate(&mut rng, seed);
        let result = std::panic::catch_unwind(|| compile(&input));
        assert!(result.is_ok(), "panicked on input:\n{input}");
        inputs += 1;
    }
    eprintln!("fuzz: {inputs} mutated inputs, no panic");
}

#[test]
fn pathological_shapes_are_diagnosed_not_crashed() {
    let deep = 100_000;
    let cases = [
        format!(
            "package a; interface IFoo {{ const int X = {}1{}; }}",
            "(".repeat(deep),
            ")".repeat(deep)
        ),
        format!(
            "package a; interface IFoo {{ const int X = 1{}; }}",
            "+1".repeat(deep)
        ),
        format!(
            "package a; interface IFoo {{ const int X = {}1; }}",
            "-".repeat(deep)
        ),
        format!(
            "package a; interface IFoo {{ void f(in {}int{} x); }}",
            "List<".repeat(deep),
            ">".repeat(deep)
        ),
        format!(
            "package a; parcelable IFoo {{ {} }}",
            "parcelable X {".repeat(deep)
        ),
        format!(
            "package a; interface IFoo {{ const int X = {}; }}",
            "{".repeat(deep)
        ),
        format!(
            "package a; interface IFoo {{ {} }}",
            "@nullable ".repeat(deep)
        ),
        "package a; interface IFoo { const int X = 99999999999999999999999999999999999; }"
            .to_string(),
        format!(
            "package a; interface IFoo {{ const String S = \"{}\"; }}",
            "x".repeat(1 << 20)
        ),
        "\u{feff}package a; interface IFoo {}".to_string(),
        "package a; interface IFoo { int[2147483647] f(); }".to_string(),
        "/** unterminated".to_string(),
        "\"unterminated".to_string(),
        "package a; enum IFoo { A = IFoo.B, B = IFoo.A }".to_string(),
        format!(
            "package a; interface IFoo {{ {} }}",
            (0..2000)
                .map(|i| format!("const int C{i} = C{} + 1;", i + 1))
                .collect::<String>()
        ),
    ];
    for input in &cases {
        compile(input);
    }
}

/// Found by the `idl` fuzz target: each array dimension nested the type one level deeper, past
/// the parser's nesting limit, and a few hundred dimensions took the compiler minutes
/// (superlinear in the count). Dimensions now count towards `MAX_NESTING`.
#[test]
fn array_dimensions_count_towards_the_nesting_limit() {
    let dims = afbus_idl::parser::MAX_NESTING + 1;
    let text = format!(
        "package a; parcelable IFoo {{ int{} m; }}",
        "[2]".repeat(dims)
    );
    let mut fs = MemoryFs::new();
    fs.add("a/IFoo.aidl", text);
    let out = afbus_idl::compile_to_rust(&fs, &[PathBuf::from("a/IFoo.aidl")], &[]).unwrap();
    let diags = out.render_diagnostics();
    assert!(diags.contains("nesting deeper than"), "{diags}");

    // Well within the limit, a many-dimensional array still compiles.
    let text = "package a; parcelable IFoo { int[2][2][2][2][2][2][2][2] m; }";
    let mut fs = MemoryFs::new();
    fs.add("a/IFoo.aidl", text);
    let out = afbus_idl::compile_to_rust(&fs, &[PathBuf::from("a/IFoo.aidl")], &[]).unwrap();
    assert_eq!(out.render_diagnostics(), "");
}
