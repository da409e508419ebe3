//! The build.rs front end: a directory of AIDL laid out by package compiles with one call.

use afbus_idl::{BuildError, Builder, Rerun};

#[test]
fn a_directory_compiles_every_aidl_file_under_it() {
    let src = tempfile::tempdir().unwrap();
    let pkg = src.path().join("org/example");
    std::fs::create_dir_all(pkg.join("sub")).unwrap();
    std::fs::write(
        pkg.join("IEcho.aidl"),
        "package org.example; import org.example.sub.Note; interface IEcho { Note echo(in Note n); }",
    )
    .unwrap();
    std::fs::write(
        pkg.join("sub/Note.aidl"),
        "package org.example.sub; parcelable Note { String text; }",
    )
    .unwrap();
    std::fs::write(pkg.join("README.txt"), "not AIDL").unwrap();
    let out = tempfile::tempdir().unwrap();
    let path = Builder::new()
        .dir(src.path())
        .out_dir(out.path())
        .rerun(Rerun::Never)
        .compile()
        .unwrap_or_else(|e| panic!("{e}"));
    let code = std::fs::read_to_string(path).unwrap();
    assert!(code.contains("pub trait IEcho"), "{code}");
    assert!(code.contains("pub struct Note"), "{code}");

    let missing = Builder::new()
        .dir(src.path().join("nowhere"))
        .out_dir(out.path())
        .rerun(Rerun::Never)
        .compile();
    assert!(
        matches!(missing, Err(BuildError::ReadDir { .. })),
        "{missing:?}"
    );
}
