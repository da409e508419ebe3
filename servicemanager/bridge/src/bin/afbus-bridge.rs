//! `afbus-bridge --config FILE`: bridges this machine's bus to its peers on Zenoh.

use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

/// Bridges an afbus bus to other machines' buses on Zenoh.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// The bridge's configuration (TOML): its name, peers, TLS files, exports and imports.
    #[arg(long)]
    config: PathBuf,
}

fn main() -> ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .init();
    let args = Args::parse();
    let config = match afbus_bridge::Config::load(&args.config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("afbus-bridge: {e}");
            return ExitCode::from(2);
        }
    };
    let _bridge = match afbus_bridge::Bridge::start(&config) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("afbus-bridge: {e}");
            return ExitCode::FAILURE;
        }
    };
    loop {
        std::thread::park();
    }
}
