//! The `afbus-idl` command: checks AIDL files or compiles them to Rust.
//!
//! Exit status: 0 when the input is valid (and the output written), 1 when the input has
//! errors, 2 when the compiler could not run (unreadable file, bad arguments, write failure).

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use afbus_idl::resolve::RealFs;
use clap::{Parser, Subcommand};

/// The exit status for invalid input.
const EXIT_INVALID: u8 = 1;
/// The exit status when the compiler could not run.
const EXIT_CANNOT_RUN: u8 = 2;

#[derive(Parser)]
#[command(name = "afbus-idl", version, about = "The afbus AIDL compiler")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Parses and resolves the files, and reports errors.
    Check {
        /// A directory under which imports are looked up.
        #[arg(short = 'I', value_name = "DIR")]
        include: Vec<PathBuf>,
        /// The files to check.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Compiles the files to one Rust source file.
    Rust {
        /// A directory under which imports are looked up.
        #[arg(short = 'I', value_name = "DIR")]
        include: Vec<PathBuf>,
        /// The files to compile.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Writes `aidl.rs` into this directory instead of printing to standard output.
        #[arg(short = 'o', value_name = "DIR")]
        out_dir: Option<PathBuf>,
        /// How the including crate names the binder runtime (`::afbus::binder` for a crate that
        /// depends on the `afbus` facade alone).
        #[arg(long, value_name = "PATH", default_value = afbus_idl::codegen::rust::DEFAULT_RUNTIME_CRATE)]
        runtime_crate: String,
        /// Also generates each interface's async client and server traits (`IFooAsync`,
        /// `IFooAsyncServer`), which need the runtime's `tokio` feature.
        #[arg(long = "async")]
        async_api: bool,
        /// With --async: the async items are compiled only with this cargo feature of the
        /// including crate.
        #[arg(long, value_name = "FEATURE", requires = "async_api")]
        async_feature: Option<String>,
    },
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(EXIT_CANNOT_RUN)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match cli.command {
        Command::Check { include, files } => {
            let c = match afbus_idl::compile(&RealFs, &files, &include) {
                Ok(c) => c,
                Err(e) => return cannot_run(&e),
            };
            eprint!("{}", c.render_diagnostics());
            if c.ir.is_some() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(EXIT_INVALID)
            }
        }
        Command::Rust {
            include,
            files,
            out_dir,
            runtime_crate,
            async_api,
            async_feature,
        } => {
            let options = afbus_idl::codegen::rust::RustOptions {
                runtime_crate,
                async_api,
                async_feature,
            };
            let out = match afbus_idl::compile_to_rust_with(&RealFs, &files, &include, &options) {
                Ok(o) => o,
                Err(e) => return cannot_run(&e),
            };
            eprint!("{}", out.render_diagnostics());
            let Some(code) = out.code else {
                return ExitCode::from(EXIT_INVALID);
            };
            let written = match out_dir {
                Some(dir) => {
                    let path = dir.join(afbus_idl::DEFAULT_OUTPUT);
                    std::fs::write(&path, code)
                        .map_err(|e| format!("cannot write {}: {e}", path.display()))
                }
                None => std::io::stdout()
                    .write_all(code.as_bytes())
                    .map_err(|e| format!("cannot write to standard output: {e}")),
            };
            match written {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => cannot_run(&e),
            }
        }
    }
}

fn cannot_run(e: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("afbus-idl: error: {e}");
    ExitCode::from(EXIT_CANNOT_RUN)
}
