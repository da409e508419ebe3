//! The afbus IDL compiler: AIDL in, Rust proxies and stubs out.
//!
//! The pipeline is parse ([`parser`], with [`lexer`] and [`ast`]) → resolve into an
//! [`ir::Ir`] ([`resolve`], evaluating [`consts`]) → generate ([`codegen::rust`]). Errors are
//! [`Diagnostic`]s with a file, line and column, rendered as `path:line:col: error: message`
//! with the source line and a caret; one run reports as many as it finds. [`Builder`] drives
//! the compiler from a `build.rs`; the `afbus-idl` binary from the command line
//! (`afbus-idl check|rust [-I DIR]... FILE... [-o DIR]`). Those need the default `codegen`
//! feature; without it the crate parses and resolves only (`afbus call --aidl` reads
//! interfaces so, with no syn, quote or prettyplease to build).
//!
//! ```
//! use afbus_idl::{compile_to_rust, resolve::MemoryFs};
//!
//! let mut fs = MemoryFs::new();
//! fs.add("org/example/IEcho.aidl",
//!        "package org.example; interface IEcho { String echo(String text); }");
//! let out = compile_to_rust(&fs, &["org/example/IEcho.aidl".into()], &[]).unwrap();
//! let code = out.code.expect("valid input");
//! assert!(code.contains("pub trait IEcho"));
//! ```
//!
//! # What the Rust looks like
//!
//! Each package is a module and each type a module named after it, holding the type's items
//! and its nested types: `org.example.IEcho` is `org::example::IEcho`, with the trait `IEcho`,
//! the proxy `IEchoProxy`, the stub `IEchoStub`, `DESCRIPTOR`, the constants and the
//! `transactions` codes. The paths repeat the type's name (`org::example::Note::Note`) as AOSP's
//! Rust back end and rsbinder lay them out, so that code moves between Android and afbus
//! unchanged; a `use org::example::IEcho::{IEcho, IEchoProxy};` names them once. Methods return `Result<T, afbus_binder::Status>`; one-way methods
//! return once the call is queued. Parcelables are structs with `Default` following the
//! declared defaults; unions are enums; enums are open newtypes with a constant per enumerator,
//! so unknown values survive; `@nullable` is `Option`; arrays and lists are `Vec`;
//! `ParcelFileDescriptor` is `OwnedFd`; an interface-typed value is the interface's proxy
//! (a local object becomes one with `IFooProxy::new_local`). Frozen API dumps
//! (`aidl_api/<module>/<N>/` with a `.hash`) also get `VERSION`, `HASH` and the
//! meta-transactions AOSP defines for them.
//!
//! `ParcelableHolder` is a generated type (in a root module `afbus_idl_support`) that carries
//! its extension as bytes, so an extension may not hold binder objects or fds.
//!
//! # Not supported by the Rust back end
//!
//! As in AOSP: `Map`, `CharSequence` and `FileDescriptor`, and unstructured parcelables
//! without `rust_type`. Unlike AOSP: non-`@nullable` `out`/`inout` binder and file-descriptor
//! arguments, and `Copy` from `@RustDerive` (fixed-size arrays are `Vec`s).
#![forbid(unsafe_code)]

pub mod ast;
#[cfg(feature = "codegen")]
mod build_api;
#[cfg(feature = "codegen")]
pub mod codegen;
pub mod consts;
pub mod diagnostics;
pub mod ir;
pub mod lexer;
pub mod parser;
pub mod resolve;

#[cfg(feature = "codegen")]
use std::path::PathBuf;

#[cfg(feature = "codegen")]
pub use build_api::{BuildError, Builder, Rerun, DEFAULT_OUTPUT};
pub use diagnostics::{Diagnostic, SourceMap, Span};
pub use resolve::{compile, Compilation, RunError};

/// The result of compiling to Rust: the diagnostics and, if there were no errors, the code.
#[cfg(feature = "codegen")]
#[derive(Debug)]
pub struct RustOutput {
    /// Every file read, for rendering diagnostics.
    pub sources: SourceMap,
    /// Errors and warnings.
    pub diagnostics: Vec<Diagnostic>,
    /// The formatted Rust code, if the input was valid.
    pub code: Option<String>,
}

#[cfg(feature = "codegen")]
impl RustOutput {
    /// The diagnostics rendered for a terminal.
    pub fn render_diagnostics(&self) -> String {
        self.sources.render_all(&self.diagnostics)
    }
}

/// Compiles `files` (with imports under `include_dirs`) to one Rust source file.
#[cfg(feature = "codegen")]
pub fn compile_to_rust(
    fs: &dyn resolve::FileSystem,
    files: &[PathBuf],
    include_dirs: &[PathBuf],
) -> Result<RustOutput, RunError> {
    compile_to_rust_with(
        fs,
        files,
        include_dirs,
        &codegen::rust::RustOptions::default(),
    )
}

/// As [`compile_to_rust`], with the back end's `options`.
#[cfg(feature = "codegen")]
pub fn compile_to_rust_with(
    fs: &dyn resolve::FileSystem,
    files: &[PathBuf],
    include_dirs: &[PathBuf],
    options: &codegen::rust::RustOptions,
) -> Result<RustOutput, RunError> {
    let c = compile(fs, files, include_dirs)?;
    let mut diagnostics = c.diagnostics;
    let code = match &c.ir {
        Some(ir) => match codegen::rust::generate_with(ir, options) {
            Ok(code) => Some(code),
            Err(mut ds) => {
                diagnostics.append(&mut ds);
                None
            }
        },
        None => None,
    };
    Ok(RustOutput {
        sources: c.sources,
        diagnostics,
        code,
    })
}
