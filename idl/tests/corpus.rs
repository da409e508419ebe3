//! Runs every file of the shared AIDL corpus through the compiler: files SOURCES.md marks
//! valid must be accepted and their Rust output must parse with `syn`; files it marks Java- or
//! C++-only must be refused by the Rust back end with a clear message; files that reference
//! types the corpus lacks are only parsed.

use std::path::{Path, PathBuf};

use afbus_idl::resolve::RealFs;

fn corpus_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/idl/corpus");
    dir.join("SOURCES.md").is_file().then_some(dir)
}

/// One row of the SOURCES.md file table.
struct Row {
    path: String,
    status: String,
}

fn rows(dir: &Path) -> Vec<Row> {
    let text = std::fs::read_to_string(dir.join("SOURCES.md")).expect("read SOURCES.md");
    text.lines()
        .filter_map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            let path = cells.get(1)?.strip_prefix('`')?.strip_suffix('`')?;
            let status = cells.get(cells.len().checked_sub(2)?)?.to_string();
            path.ends_with(".aidl").then(|| Row {
                path: path.to_string(),
                status,
            })
        })
        .collect()
}

/// The import roots of a corpus file: its own package root, plus the extra ones SOURCES.md
/// names for cross-root dependencies.
fn import_roots(dir: &Path, path: &str) -> Vec<PathBuf> {
    let file = dir.join(path);
    let text = std::fs::read_to_string(&file).unwrap_or_default();
    let package = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("package "))
        .map(|p| p.trim_end_matches(';').trim().to_string())
        .unwrap_or_default();
    let mut root = file.parent().expect("parent").to_path_buf();
    for _ in package.split('.').filter(|p| !p.is_empty()) {
        root.pop();
    }
    let mut roots = vec![root];
    if path.ends_with("IBinderRecordReplayTest.aidl") {
        roots.push(dir.join("aosp-frameworks-native/libs/binder/tests/parcel_fuzzer"));
    }
    if path.contains("services/inputflinger") {
        roots.push(dir.join("aosp-hardware-interfaces/input/common/aidl"));
    }
    roots
}

/// Every corpus file whose Rust output the sweep accepts, with that output, except those that
/// name Rust types of their own (`rust_type`), which only their crate can build.
fn buildable_outputs(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for row in rows(dir) {
        let java_only = row.status.contains("java only") || row.status.contains("java/cpp only");
        if row.status.contains("OPEN") || java_only {
            continue;
        }
        let file = dir.join(&row.path);
        let includes = import_roots(dir, &row.path);
        let compiled = afbus_idl::compile(&RealFs, std::slice::from_ref(&file), &includes);
        let Some(ir) = compiled.expect("compiler runs").ir else {
            continue;
        };
        let foreign = ir.types.iter().any(|t| {
            matches!(
                t.kind,
                afbus_idl::ir::TypeKind::Unstructured {
                    rust_type: Some(_),
                    ..
                }
            )
        });
        if let (Ok(code), false) = (afbus_idl::codegen::rust::generate(&ir), foreign) {
            out.push((row.path, code));
        }
    }
    out
}

/// Builds every accepted corpus file's Rust output against afbus-binder in a scratch crate.
/// Slow (it compiles the runtime and about 35,000 generated lines), hence ignored by default:
/// `cargo test -p afbus-idl --test corpus -- --ignored`.
#[test]
#[ignore = "slow, and reads ../shared/idl/corpus: builds a scratch crate with cargo (CI runs it)"]
fn corpus_output_compiles() {
    let dir = corpus_dir().expect("the shared corpus (../shared/idl/corpus) is present");
    let scratch = tempfile::tempdir().unwrap();
    let src = scratch.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    let binder = Path::new(env!("CARGO_MANIFEST_DIR")).join("../binder");
    std::fs::write(
        scratch.path().join("Cargo.toml"),
        format!(
            "[package]\nname = \"corpus-output\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\n\
             [dependencies]\nafbus-binder = {{ path = {:?} }}\n\n[workspace]\n",
            binder.display().to_string()
        ),
    )
    .unwrap();
    let mut lib = String::from("#![deny(warnings)]\n");
    let outputs = buildable_outputs(&dir);
    for (i, (path, code)) in outputs.iter().enumerate() {
        std::fs::write(src.join(format!("m{i}.rs")), code).unwrap();
        lib.push_str(&format!(
            "/// {path}\npub mod m{i} {{ include!(\"m{i}.rs\"); }}\n"
        ));
    }
    std::fs::write(src.join("lib.rs"), lib).unwrap();
    let status = std::process::Command::new(env!("CARGO"))
        .args(["build", "--quiet", "-j", "1"])
        .current_dir(scratch.path())
        .env("CARGO_TARGET_DIR", scratch.path().join("target"))
        .status()
        .expect("run cargo");
    assert!(
        status.success(),
        "the generated Rust of {} corpus files does not build",
        outputs.len()
    );
    eprintln!(
        "corpus: the Rust of {} files builds with no warning",
        outputs.len()
    );
}

#[test]
#[ignore = "reads ../shared/idl/corpus, outside the repository (CI has it and runs it)"]
fn corpus_sweep() {
    let dir = corpus_dir().expect("the shared corpus (../shared/idl/corpus) is present");
    let rows = rows(&dir);
    assert!(rows.len() > 100, "SOURCES.md lists {} files", rows.len());
    let (mut accepted, mut refused, mut parsed_only, mut valid_total) = (0, 0, 0, 0);
    let mut failures = Vec::new();
    for row in &rows {
        let file = dir.join(&row.path);
        let includes = import_roots(&dir, &row.path);
        if row.status.contains("OPEN") {
            let mut diags = afbus_idl::diagnostics::Diagnostics::default();
            let text = std::fs::read_to_string(&file).expect("read corpus file");
            let _ = afbus_idl::parser::parse(afbus_idl::diagnostics::FileId(0), &text, &mut diags);
            if diags.has_errors() {
                failures.push(format!("{}: parse errors", row.path));
            } else {
                parsed_only += 1;
            }
            continue;
        }
        let java_only = row.status.contains("java only") || row.status.contains("java/cpp only");
        valid_total += 1;
        let out = afbus_idl::compile_to_rust(&RealFs, std::slice::from_ref(&file), &includes)
            .expect("compiler runs");
        let front_end_errors = out
            .diagnostics
            .iter()
            .any(|d| !d.message.contains("not supported by the Rust back end"));
        if front_end_errors {
            failures.push(format!("{}:\n{}", row.path, out.render_diagnostics()));
            continue;
        }
        match (&out.code, java_only) {
            (Some(code), false) => match syn::parse_file(code) {
                Ok(_) => accepted += 1,
                Err(e) => failures.push(format!("{}: output does not parse: {e}", row.path)),
            },
            (None, true) => refused += 1,
            (None, false) => {
                // Valid AIDL the Rust back end refuses (it says why); counted as refused.
                eprintln!(
                    "refused by the Rust back end: {}\n{}",
                    row.path,
                    out.render_diagnostics()
                );
                refused += 1;
            }
            (Some(_), true) => {
                failures.push(format!("{}: Java-only file was not refused", row.path))
            }
        }
    }
    eprintln!(
        "corpus: {accepted} accepted with Rust output, {refused} refused by the Rust back end \
         (of {valid_total} valid), {parsed_only} parse-only"
    );
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
