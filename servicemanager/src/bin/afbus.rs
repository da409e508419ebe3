//! `afbus`: talk to a bus and its service manager.
//!
//! ```text
//! afbus [--bus PATH] [--json] list
//! afbus check NAME
//! afbus wait NAME [--timeout S]
//! afbus call NAME METHOD [VALUE]... --aidl FILE [-I DIR]... [--timeout S]
//! afbus call NAME CODE [TYPE VALUE]... [--reply TYPE,...] [--timeout S]
//! afbus status
//! afbus dump NAME [ARG]...   # the service's state, as it writes it (Android's dumpsys)
//! afbus monitor [KEY=VALUE]...   # signals, peers (pid, uid, process), registrations
//! afbus completions SHELL   # bash, zsh, fish, elvish, powershell
//! afbus man                 # this command's man page (roff)
//! ```
//! Argument types for `call`: `i32`, `i64`, `u32`, `u64`, `f64`, `bool`, `str`, `null` (a null
//! string), `bytes` (hex), `fd` (a file opened for reading). The reply is decoded with
//! `--reply` (the same types; an `fd` shows what it is open on), else shown as hex. With
//! `--aidl`, arguments and reply follow the method's declaration (see `afbus_servicemanager::aidl_call`): e.g.
//! `afbus call afbus.examples.IEcho/default echo hello --aidl IEcho.aidl`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use std::os::fd::AsRawFd;

use afbus_binder::{Parcel, Runtime, RuntimeConfig, SpIBinder, StatusCode, TransactionCode};
use afbus_servicemanager::{bus_path, IServiceCallback, IServiceCallbackProxy, ServiceManager};
use afbus_transport::{BusSocket, Event, Fields, PeerInfo, UniqueId, Watch};
use clap::{Parser, Subcommand};
use serde_json::{json, Value};

/// Talk to an afbus bus and its service manager: list, check, wait for and call services,
/// and watch the bus.
#[derive(Parser)]
#[command(name = "afbus", version)]
struct Args {
    /// The bus socket (else $AFBUS_BUS, $XDG_RUNTIME_DIR/afbus/bus, /tmp/afbus-UID/bus).
    #[arg(long, global = true)]
    bus: Option<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List the registered services with their owners and interfaces.
    List,
    /// Say whether a service is registered now (exit status 1 if not).
    Check {
        /// The service name.
        name: String,
    },
    /// Wait until a service is registered.
    Wait {
        /// The service name.
        name: String,
        /// Seconds to wait.
        #[arg(long, default_value_t = 5.0)]
        timeout: f64,
    },
    /// Call a service: by method name with the interface's .aidl (--aidl), or by transaction
    /// code with typed arguments.
    Call {
        /// The service name.
        name: String,
        /// The method's name (with --aidl), else its transaction code.
        method: String,
        /// With --aidl: one JSON value per in/inout argument (text that is not JSON is a
        /// string). Else TYPE VALUE pairs (i32 5 str hello bool true ...).
        args: Vec<String>,
        /// The .aidl file defining the service's interface (repeat for more files).
        #[arg(long)]
        aidl: Vec<PathBuf>,
        /// Where the .aidl files' imports are found (repeatable).
        #[arg(short = 'I', long = "include")]
        include: Vec<PathBuf>,
        /// Without --aidl: how to decode the reply, as comma-separated types.
        #[arg(long)]
        reply: Option<String>,
        /// Seconds to wait for the reply.
        #[arg(long, default_value_t = 30.0)]
        timeout: f64,
    },
    /// Show every endpoint of the bus: address, pid, uid, names, frames queued in the master.
    Status,
    /// Print a service's state as it writes it (like Android's `dumpsys NAME`).
    Dump {
        /// The service name.
        name: String,
        /// Arguments for the service's dump.
        args: Vec<String>,
    },
    /// Print, as they come: multicast signals (matching KEY=VALUE fields), peers joining and
    /// leaving (pid, uid, process), name owner changes and service registrations.
    Monitor {
        /// Fields a signal must carry.
        rule: Vec<String>,
    },
    /// Print a shell completion script (e.g. `afbus completions bash > /etc/bash_completion.d/afbus`).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print this command's man page (roff; e.g. `afbus man > /usr/local/share/man/man1/afbus.1`).
    Man,
}

fn main() -> ExitCode {
    let args = Args::parse();
    // These need no bus.
    match &args.command {
        Command::Completions { shell } => {
            let mut cmd = <Args as clap::CommandFactory>::command();
            clap_complete::generate(*shell, &mut cmd, "afbus", &mut std::io::stdout());
            return ExitCode::SUCCESS;
        }
        Command::Man => {
            let cmd = <Args as clap::CommandFactory>::command();
            return match clap_mangen::Man::new(cmd).render(&mut std::io::stdout()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("afbus: man: {e}");
                    ExitCode::FAILURE
                }
            };
        }
        _ => {}
    }
    match run(&args) {
        Ok(out) => {
            print(&out, args.json);
            if out.failed {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) if args.json => {
            println!("{}", json!({ "error": e.to_string() }));
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("afbus: {e}");
            ExitCode::FAILURE
        }
    }
}

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// What a command printed: lines of text, or one JSON value; `failed` for an answer that is
/// a "no" (exit status 1).
#[derive(Default)]
struct Out {
    text: Vec<String>,
    json: Value,
    failed: bool,
}

fn print(out: &Out, json: bool) {
    if json {
        println!("{}", out.json);
    } else {
        for line in &out.text {
            println!("{line}");
        }
    }
}

fn run(args: &Args) -> Result<Out> {
    let bus = bus_path(args.bus.clone());
    let bus = bus.for_client()?.to_owned();
    let rt = Runtime::new(RuntimeConfig {
        max_threads: 0,
        ..RuntimeConfig::default()
    })?;
    match &args.command {
        Command::List => {
            let sm = ServiceManager::connect(&rt, &bus)?;
            let services = sm.debug_info()?;
            // An older daemon does not list its declarations: none, then.
            let declared = sm.list_declared().unwrap_or_default();
            let mut text = Vec::new();
            let mut rows = Vec::new();
            for s in &services {
                let interface = descriptor(&sm, &s.name);
                text.push(format!(
                    "{}\t{}\tpid {}\tuid {}",
                    s.name,
                    interface.as_deref().unwrap_or("?"),
                    s.pid,
                    s.uid
                ));
                rows.push(json!({
                    "name": s.name, "interface": interface, "pid": s.pid, "uid": s.uid,
                    "declared": declared.contains(&s.name),
                }));
            }
            for name in declared
                .iter()
                .filter(|d| !services.iter().any(|s| &s.name == *d))
            {
                text.push(format!("{name}\t(declared: started on the first get)"));
                rows.push(json!({"name": name, "declared": true, "running": false}));
            }
            if text.is_empty() {
                text.push("no services registered or declared (that this user may find)".into());
            }
            Ok(Out {
                text,
                json: Value::Array(rows),
                ..Out::default()
            })
        }
        Command::Check { name } => {
            let sm = ServiceManager::connect(&rt, &bus)?;
            let found = sm.check_service(name)?.is_some();
            Ok(Out {
                text: vec![format!(
                    "{name}: {}",
                    if found { "found" } else { "not found" }
                )],
                json: json!({"name": name, "found": found}),
                failed: !found,
            })
        }
        Command::Wait { name, timeout } => {
            let sm = ServiceManager::connect(&rt, &bus)?;
            match sm.wait_for_service(name, Duration::from_secs_f64(*timeout)) {
                Ok(_) => Ok(Out {
                    text: vec![format!("{name} is registered")],
                    json: json!({"name": name, "registered": true}),
                    ..Out::default()
                }),
                Err(e) if e.code() == StatusCode::NAME_NOT_FOUND => {
                    Err(format!("{name} was not registered within {timeout} s").into())
                }
                Err(e) => Err(e.into()),
            }
        }
        Command::Call {
            name,
            method,
            args,
            aidl: files,
            include,
            reply,
            timeout,
        } if !files.is_empty() => {
            if reply.is_some() {
                return Err(
                    "--reply is for calls by code: with --aidl the reply is decoded \
                            from the method's declaration"
                        .into(),
                );
            }
            let interfaces = afbus_servicemanager::aidl_call::Interfaces::load(files, include)?;
            let sm = ServiceManager::connect(&rt, &bus)?;
            let service = sm.get_service(name)?;
            let descriptor = descriptor(&sm, name);
            let m = interfaces.method(descriptor.as_deref(), method)?;
            let data = m.write_args(args)?;
            if m.oneway() {
                service
                    .transact_oneway(m.code(), data)
                    .map_err(|e| format!("{name}: {method}: {e}"))?;
                return Ok(Out {
                    text: vec![format!("{method}: sent (one-way)")],
                    json: json!({}),
                    ..Out::default()
                });
            }
            let mut r = service
                .transact_timeout(m.code(), data, Duration::from_secs_f64(*timeout))
                .map_err(|e| format!("{name}: {method}: {e}"))?;
            let values = m.read_reply(&mut r)?;
            let mut text: Vec<_> = values.iter().map(|(k, v)| format!("{k}: {v}")).collect();
            if text.is_empty() {
                text.push(format!("{method}: done"));
            }
            Ok(Out {
                text,
                json: Value::Object(values),
                ..Out::default()
            })
        }
        Command::Call {
            name,
            method,
            args,
            reply,
            timeout,
            ..
        } => {
            let code: u32 = method.parse().map_err(|_| {
                format!(
                    "{method:?} is not a transaction code; to call a method by name, give the \
                     interface's .aidl with --aidl"
                )
            })?;
            let sm = ServiceManager::connect(&rt, &bus)?;
            let service = sm.get_service(name)?;
            let data = encode_args(args)?;
            let timeout = Duration::from_secs_f64(*timeout);
            let mut r = service
                .transact_timeout(TransactionCode(code), data, timeout)
                .map_err(|e| format!("{name}: call {code}: {e}"))?;
            match reply {
                Some(types) => {
                    let values = decode_reply(&mut r, types)?;
                    Ok(Out {
                        text: values.iter().map(Value::to_string).collect(),
                        json: Value::Array(values),
                        ..Out::default()
                    })
                }
                None => {
                    let hex = hex(r.as_bytes());
                    Ok(Out {
                        text: vec![format!("reply: {} bytes: {hex}", r.len())],
                        json: json!({"reply_hex": hex}),
                        ..Out::default()
                    })
                }
            }
        }
        Command::Dump { name, args } => {
            use std::os::fd::AsFd;
            let sm = ServiceManager::connect(&rt, &bus)?;
            let service = sm.get_service(name)?;
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            // The service writes to our standard output itself.
            let stdout = std::io::stdout();
            match service.dump(stdout.as_fd(), &args) {
                Ok(()) => Ok(Out::default()),
                Err(e) if e.code() == StatusCode::UNKNOWN_TRANSACTION => {
                    Err(format!("{name} has no dump").into())
                }
                Err(e) => Err(format!("{name}: dump: {e}").into()),
            }
        }
        Command::Status => {
            let endpoint = BusSocket::connect(&bus)?;
            let peers = endpoint.peers()?;
            let mut text = vec!["ADDRESS\tPID\tUID\tQUEUED\tBYTES\tNAMES".to_string()];
            let mut rows = Vec::new();
            for p in &peers {
                let names: Vec<String> = p.names.iter().map(ToString::to_string).collect();
                text.push(format!(
                    "{}\t{}\t{}\t{}\t{}\t{}",
                    p.info.id,
                    p.info.creds.pid,
                    p.info.creds.uid,
                    p.queued_frames,
                    p.queued_bytes,
                    names.join(",")
                ));
                rows.push(json!({
                    "address": p.info.id.to_string(), "pid": p.info.creds.pid, "uid": p.info.creds.uid,
                    "gid": p.info.creds.gid, "queued_frames": p.queued_frames, "queued_bytes": p.queued_bytes, "names": names,
                }));
            }
            Ok(Out {
                text,
                json: Value::Array(rows),
                ..Out::default()
            })
        }
        Command::Monitor { rule } => {
            let endpoint = BusSocket::connect(&bus)?;
            let mut fields = Fields::new();
            for f in rule {
                let (k, v) = f
                    .split_once('=')
                    .ok_or_else(|| format!("rule field {f:?} is not KEY=VALUE"))?;
                fields = fields.with(k, v);
            }
            endpoint.add_match(&fields)?;
            endpoint.watch(&Watch::All)?;
            // Who is on the bus, so that a peer that leaves is named as it was when it joined.
            let mut peers: HashMap<UniqueId, Value> = endpoint
                .peers()?
                .into_iter()
                .map(|p| (p.info.id, peer_json(&p.info)))
                .collect();
            // Registrations at the service manager, if one runs and lets us watch (it tells of
            // the names we may find and call); its notices print from a looper thread.
            let watcher_rt = Runtime::new(RuntimeConfig::default())?;
            watcher_rt.start_thread_pool();
            let registrations = watch_registrations(&watcher_rt, &bus);
            if let Err(e) = &registrations {
                println!(
                    "{}",
                    json!({"note": format!("no service registrations: {e}")})
                );
            }
            loop {
                let line = match endpoint.recv_event(None)? {
                    Event::Signal(s) => json!({
                        "signal": {"sender": s.sender.to_string(), "lost_before": s.lost_before,
                        "fields": s.fields.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>(),
                        "body_len": s.body.len()}
                    }),
                    Event::NameOwnerChanged(c) => json!({"name_owner_changed": {
                        "name": c.name.to_string(), "old": c.old.map(|u| u.to_string()), "new": c.new.map(|u| u.to_string())
                    }}),
                    Event::PeerJoined(p) => {
                        let v = peer_json(&p);
                        peers.insert(p.id, v.clone());
                        json!({ "peer_joined": v })
                    }
                    Event::PeerGone(id) => {
                        let v = peers
                            .remove(&id)
                            .unwrap_or_else(|| json!({"peer": id.to_string()}));
                        json!({ "peer_gone": v })
                    }
                    Event::Incoming { .. } => continue,
                };
                println!("{line}");
            }
        }
        // Printed by main, with no bus.
        Command::Completions { .. } | Command::Man => Ok(Out::default()),
    }
}

fn encode_args(args: &[String]) -> Result<Parcel> {
    if args.len() % 2 != 0 {
        return Err("arguments come in TYPE VALUE pairs".into());
    }
    let mut p = Parcel::new();
    for pair in args.chunks(2) {
        let (ty, v) = (pair[0].as_str(), pair[1].as_str());
        match ty {
            "i32" => p.write_i32(v.parse()?),
            "i64" => p.write_i64(v.parse()?),
            "u32" => p.write_u32(v.parse()?),
            "u64" => p.write_u64(v.parse()?),
            "f64" => p.write_f64(v.parse()?),
            "bool" => p.write_bool(v.parse()?),
            "str" => p.write_str(v),
            "null" => p.write_nullable_str(None),
            "bytes" => p.write_bytes(&unhex(v)?),
            "fd" => p.write_fd(
                std::fs::File::open(v)
                    .map_err(|e| format!("fd argument {v}: {e}"))?
                    .into(),
            ),
            other => return Err(format!("unknown argument type {other:?}").into()),
        }
    }
    Ok(p)
}

fn decode_reply(r: &mut Parcel, types: &str) -> Result<Vec<Value>> {
    types
        .split(',')
        .map(|ty| {
            Ok(match ty.trim() {
                "i32" => json!(r.read_i32()?),
                "i64" => json!(r.read_i64()?),
                "u32" => json!(r.read_u32()?),
                "u64" => json!(r.read_u64()?),
                "f64" => json!(r.read_f64()?),
                "bool" => json!(r.read_bool()?),
                "str" => json!(r.read_string()?),
                "null" => json!(r.read_nullable_string()?),
                "bytes" => json!(hex(&r.read_bytes()?)),
                "fd" => {
                    let fd = r.take_fd()?;
                    let target = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd()));
                    json!(target.map_or_else(|_| "fd".into(), |p| p.display().to_string()))
                }
                other => return Err(format!("unknown reply type {other:?}").into()),
            })
        })
        .collect()
}

/// A peer as `monitor` prints it: address, kernel-verified pid, uid and gid, and the process
/// name while it runs.
fn peer_json(p: &PeerInfo) -> Value {
    json!({
        "peer": p.id.to_string(), "pid": p.creds.pid, "uid": p.creds.uid, "gid": p.creds.gid,
        "process": process_name(p.creds.pid),
    })
}

/// The process's name (`/proc/PID/comm`), if it still runs.
fn process_name(pid: i32) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .ok()
        .map(|s| s.trim_end().to_owned())
}

/// Prints every service registration and removal the service manager tells of, with the
/// owner's pid, uid and process name, until the runtime goes.
fn watch_registrations(
    rt: &Runtime,
    bus: &std::path::Path,
) -> Result<std::sync::Arc<ServiceManager>> {
    struct Printer(std::sync::Weak<ServiceManager>);
    impl IServiceCallback for Printer {
        fn on_registration(
            &self,
            name: &str,
            service: &SpIBinder,
        ) -> std::result::Result<(), afbus_binder::Status> {
            let pid = service.object_id().pid;
            let uid = self.0.upgrade().and_then(|sm| {
                sm.debug_info()
                    .ok()?
                    .into_iter()
                    .find(|s| s.name == name)
                    .map(|s| s.uid)
            });
            println!(
                "{}",
                json!({"registered": {
                    "name": name, "pid": pid, "uid": uid, "process": process_name(pid),
                }})
            );
            Ok(())
        }
        fn on_removal(&self, name: &str) -> std::result::Result<(), afbus_binder::Status> {
            println!("{}", json!({"removed": {"name": name}}));
            Ok(())
        }
    }
    let sm = std::sync::Arc::new(ServiceManager::connect(rt, bus)?);
    let printer = IServiceCallbackProxy::new_local(rt, Printer(std::sync::Arc::downgrade(&sm)));
    sm.register_for_all_notifications(&printer)?;
    Ok(sm)
}

/// The interface a service says it implements,/// The interface a service says it implements, asked with a short timeout: a service that does
/// not answer shows as unknown instead of holding the listing.
fn descriptor(sm: &ServiceManager, name: &str) -> Option<String> {
    let service = sm.check_service(name).ok()??;
    let mut r = service
        .transact_timeout(
            TransactionCode::INTERFACE,
            Parcel::new(),
            Duration::from_secs(1),
        )
        .ok()?;
    r.read_string().ok()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Result<Vec<u8>> {
    if s.len() % 2 != 0 {
        return Err(format!("bytes argument {s:?} is not an even number of hex digits").into());
    }
    (0..s.len())
        .step_by(2)
        .map(|i| {
            s.get(i..i + 2)
                .and_then(|d| u8::from_str_radix(d, 16).ok())
                .ok_or_else(|| format!("bytes argument {s:?} is not hex").into())
        })
        .collect()
}
