//! The `build.rs` front end.
//!
//! ```no_run
//! // build.rs
//! afbus_idl::Builder::new()
//!     .include_dir("aidl")
//!     .file("aidl/org/example/IEcho.aidl")
//!     .compile()
//!     .unwrap_or_else(|e| panic!("{e}"));
//! ```
//!
//! and in the crate, which depends on `afbus-binder` (or on the `afbus` facade alone, with
//! `.runtime_crate("::afbus::binder")`), either of (the end-to-end test crate `afbus-idl-e2e`
//! compiles both):
//!
//! ```text
//! include!(concat!(env!("OUT_DIR"), "/aidl.rs"));
//! afbus_idl::include_aidl!(); // with afbus-idl also a dependency
//! ```

use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::resolve::RealFs;

/// The output file name in `OUT_DIR` unless [`Builder::output_name`] says otherwise.
pub const DEFAULT_OUTPUT: &str = "aidl.rs";

/// Whether the build script tells cargo which files to watch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Rerun {
    /// Print `cargo:rerun-if-changed` for every file read.
    #[default]
    IfInputsChange,
    /// Print nothing (for use outside build scripts).
    Never,
}

/// Compiles `.aidl` files from a build script into one Rust file in `OUT_DIR`.
#[derive(Debug, Default, Clone)]
pub struct Builder {
    include_dirs: Vec<PathBuf>,
    files: Vec<PathBuf>,
    /// Directories whose every `.aidl` file is compiled.
    dirs: Vec<PathBuf>,
    out_dir: Option<PathBuf>,
    output_name: Option<String>,
    rerun: Rerun,
    rust: crate::codegen::rust::RustOptions,
}

/// Why a build failed.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The compiler could not run.
    #[error(transparent)]
    Run(#[from] crate::RunError),
    /// The input has errors; `rendered` holds the diagnostics.
    #[error("{count} error(s) in AIDL input:\n{rendered}")]
    Invalid {
        /// How many errors.
        count: usize,
        /// The diagnostics, rendered.
        rendered: String,
    },
    /// Neither [`Builder::out_dir`] nor the `OUT_DIR` variable says where to write.
    #[error("no output directory: OUT_DIR is not set (not in a build script?)")]
    NoOutDir,
    /// A directory given to [`Builder::dir`] could not be read.
    #[error("cannot read {path}: {source}")]
    ReadDir {
        /// The directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The output could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

impl Builder {
    /// A builder with no files.
    pub fn new() -> Builder {
        Builder::default()
    }

    /// Adds a directory under which imports are looked up (as `-I`).
    pub fn include_dir(mut self, dir: impl Into<PathBuf>) -> Builder {
        self.include_dirs.push(dir.into());
        self
    }

    /// Adds a file to compile.
    pub fn file(mut self, file: impl Into<PathBuf>) -> Builder {
        self.files.push(file.into());
        self
    }

    /// Adds files to compile.
    pub fn files<P: Into<PathBuf>>(mut self, files: impl IntoIterator<Item = P>) -> Builder {
        self.files.extend(files.into_iter().map(Into::into));
        self
    }

    /// Compiles every `.aidl` file under `dir` (recursively, in path order) and looks imports
    /// up there too: a tree laid out by package (`dir/org/example/IEcho.aidl`) needs nothing
    /// else.
    pub fn dir(mut self, dir: impl Into<PathBuf>) -> Builder {
        let dir = dir.into();
        self.include_dirs.push(dir.clone());
        self.dirs.push(dir);
        self
    }

    /// Writes into `dir` instead of `OUT_DIR`.
    pub fn out_dir(mut self, dir: impl Into<PathBuf>) -> Builder {
        self.out_dir = Some(dir.into());
        self
    }

    /// Names the output file (default [`DEFAULT_OUTPUT`]).
    pub fn output_name(mut self, name: impl Into<String>) -> Builder {
        self.output_name = Some(name.into());
        self
    }

    /// Names the binder runtime as the including crate sees it: `::afbus_binder` by default;
    /// `::afbus::binder` for a crate whose only afbus dependency is the `afbus` facade.
    pub fn runtime_crate(mut self, path: impl Into<String>) -> Builder {
        self.rust.runtime_crate = path.into();
        self
    }

    /// Also generates each interface's async client and server traits (`IFooAsync`, implemented
    /// by `IFooProxy`, and `IFooAsyncServer`, served through `IFooProxy::new_async_local`): the
    /// including crate's runtime needs its `tokio` feature.
    pub fn async_api(mut self, on: bool) -> Builder {
        self.rust.async_api = on;
        self
    }

    /// As [`async_api`](Self::async_api)`(true)`, the async items compiled only with the cargo
    /// feature `feature` of the including crate: for a library whose async API is optional.
    pub fn async_api_feature(mut self, feature: impl Into<String>) -> Builder {
        self.rust.async_api = true;
        self.rust.async_feature = Some(feature.into());
        self
    }

    /// Sets whether `cargo:rerun-if-changed` lines are printed.
    pub fn rerun(mut self, rerun: Rerun) -> Builder {
        self.rerun = rerun;
        self
    }

    /// Compiles, writes the output and returns its path. Diagnostics are part of the error.
    pub fn compile(self) -> Result<PathBuf, BuildError> {
        let out_dir = match self.out_dir {
            Some(d) => d,
            None => std::env::var_os("OUT_DIR")
                .map(PathBuf::from)
                .ok_or(BuildError::NoOutDir)?,
        };
        let mut files = self.files.clone();
        for dir in &self.dirs {
            aidl_files_under(dir, &mut files).map_err(|source| BuildError::ReadDir {
                path: dir.clone(),
                source,
            })?;
        }
        let out = crate::compile_to_rust_with(&RealFs, &files, &self.include_dirs, &self.rust)?;
        if self.rerun == Rerun::IfInputsChange {
            let mut stdout = std::io::stdout().lock();
            // A file added to a directory changes the output too.
            for dir in &self.dirs {
                let _ = writeln!(stdout, "cargo:rerun-if-changed={}", dir.display());
            }
            for (_, path, _) in out.sources.files() {
                let _ = writeln!(stdout, "cargo:rerun-if-changed={}", path.display());
            }
        }
        let Some(code) = out.code.as_deref() else {
            return Err(BuildError::Invalid {
                count: out
                    .diagnostics
                    .iter()
                    .filter(|d| d.severity == crate::diagnostics::Severity::Error)
                    .count(),
                rendered: out.render_diagnostics(),
            });
        };
        let path = out_dir.join(self.output_name.as_deref().unwrap_or(DEFAULT_OUTPUT));
        write_if_changed(&path, code)?;
        Ok(path)
    }
}

/// Adds the `.aidl` files under `dir` to `out`, sorted, subdirectories included.
fn aidl_files_under(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<std::io::Result<_>>()?;
    entries.sort();
    for path in entries {
        if path.is_dir() {
            aidl_files_under(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "aidl") {
            out.push(path);
        }
    }
    Ok(())
}

/// Writes `code` to `path` unless it already holds exactly that, so that an unchanged output
/// does not make cargo rebuild the crate.
fn write_if_changed(path: &Path, code: &str) -> Result<(), BuildError> {
    if std::fs::read_to_string(path).is_ok_and(|old| old == code) {
        return Ok(());
    }
    std::fs::write(path, code).map_err(|source| BuildError::Write {
        path: path.to_path_buf(),
        source,
    })
}

/// Includes the Rust that a build script generated with [`Builder`]: `include_aidl!()` for
/// the default output name, `include_aidl!("name.rs")` for another.
#[macro_export]
macro_rules! include_aidl {
    () => {
        include!(concat!(env!("OUT_DIR"), "/aidl.rs"));
    };
    ($name:literal) => {
        include!(concat!(env!("OUT_DIR"), "/", $name));
    };
}
