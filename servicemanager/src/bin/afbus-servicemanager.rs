//! `afbus-servicemanager`: the bus master daemon.
//!
//! Owns one bus: `--bus PATH` (else `$AFBUS_BUS`; for root `/run/afbus/bus`; else
//! `$XDG_RUNTIME_DIR/afbus/bus`, else `/tmp/afbus-UID/bus`, whose directory must be the user's
//! alone). SIGTERM or SIGINT: clean exit, socket removed. SIGHUP: reload the
//! policy; a bad file is reported and the old policy stays. With `--ready-fd N` it writes `R` to
//! fd N once the bus accepts calls, then `H` after each reload (`E` for a failed one). Under
//! systemd (`Type=notify`, `$NOTIFY_SOCKET` set) it also says `READY=1`, `RELOADING=1` and
//! `STOPPING=1` there.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use afbus_servicemanager::{bus_path, Daemon, DaemonOptions};
use clap::Parser;
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::SignalFd;

/// The afbus bus master.
#[derive(Parser)]
#[command(version, about)]
struct Args {
    /// The bus socket to create.
    #[arg(long)]
    bus: Option<PathBuf>,
    /// The policy file (TOML).
    #[arg(long)]
    policy: Option<PathBuf>,
    /// A directory of service declarations (one TOML file per service).
    #[arg(long)]
    services: Option<PathBuf>,
    /// An inherited fd to report readiness and reloads on.
    #[arg(long)]
    ready_fd: Option<u32>,
}

fn main() -> ExitCode {
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .init();
    let args = Args::parse();
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("afbus-servicemanager: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    // Signals are read from a signalfd: block them before any thread starts, so all inherit it.
    let mut signals = SigSet::empty();
    for s in [Signal::SIGTERM, Signal::SIGINT, Signal::SIGHUP] {
        signals.add(s);
    }
    signals.thread_block()?;
    let signal_fd = SignalFd::new(&signals)?;
    let mut ready = match args.ready_fd {
        Some(fd) => Some(afbus_servicemanager::inherited_fd(fd as i32).map_err(|e| {
            format!(
                "--ready-fd {fd}: {e} (an fd open for writing, inherited from the caller: a \
                 pipe, a file or a socket, e.g. `3>ready` or `--ready-fd 3 3>&1` in a shell)"
            )
        })?),
        None => None,
    };
    let notify = SystemdNotify::from_env();
    let mut tell = |byte: u8| {
        if let Some(f) = ready.as_mut() {
            let _ = f.write_all(&[byte]);
        }
        notify.say(match byte {
            b'R' | b'H' | b'E' => "READY=1",
            _ => return,
        });
    };
    let bus = bus_path(args.bus);
    bus.prepare_for_daemon()?;
    let opts = DaemonOptions {
        bus: bus.path,
        policy_file: args.policy,
        services_dir: args.services,
    };
    let daemon = Daemon::start(&opts)?;
    tell(b'R');
    loop {
        let Some(info) = signal_fd.read_signal()? else {
            continue;
        };
        match Signal::try_from(info.ssi_signo as i32) {
            Ok(Signal::SIGHUP) => {
                notify.say("RELOADING=1");
                match daemon.reload() {
                    Ok(()) => tell(b'H'),
                    Err(e) => {
                        tracing::error!("reload refused, the old policy stays: {e}");
                        tell(b'E');
                    }
                }
            }
            _ => break,
        }
    }
    tracing::info!("stopping");
    notify.say("STOPPING=1");
    daemon.stop();
    Ok(())
}

/// systemd's readiness protocol (`sd_notify`): datagrams to the socket in `$NOTIFY_SOCKET`.
struct SystemdNotify(
    Option<(
        std::os::unix::net::UnixDatagram,
        std::os::unix::net::SocketAddr,
    )>,
);

impl SystemdNotify {
    fn from_env() -> SystemdNotify {
        use std::os::linux::net::SocketAddrExt;
        use std::os::unix::net::{SocketAddr, UnixDatagram};
        let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
            return SystemdNotify(None);
        };
        let bytes = std::os::unix::ffi::OsStrExt::as_bytes(path.as_os_str());
        // "@name" is an abstract socket.
        let addr = match bytes.strip_prefix(b"@") {
            Some(name) => SocketAddr::from_abstract_name(name),
            None => SocketAddr::from_pathname(&path),
        };
        match (UnixDatagram::unbound(), addr) {
            (Ok(sock), Ok(addr)) => SystemdNotify(Some((sock, addr))),
            (Err(e), _) | (_, Err(e)) => {
                tracing::warn!("NOTIFY_SOCKET {path:?} cannot be used: {e}");
                SystemdNotify(None)
            }
        }
    }

    fn say(&self, state: &str) {
        if let Some((sock, addr)) = &self.0 {
            if let Err(e) = sock.send_to_addr(state.as_bytes(), addr) {
                tracing::warn!("sd_notify {state}: {e}");
            }
        }
    }
}
