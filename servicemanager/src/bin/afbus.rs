//! `afbus`: talk to a bus and its service manager.
//!
//! ```text
//! afbus [--bus PATH] [--json] list
//! afbus wait NAME [--timeout S]
//! afbus call NAME CODE [TYPE VALUE]... [--reply TYPE,...]
//! afbus status
//! afbus monitor [KEY=VALUE]...
//! ```
//! Argument types for `call`: `i32`, `i64`, `u32`, `u64`, `f64`, `bool`, `str`, `null` (a null
//! string). The reply is decoded with `--reply` (same types), else shown as hex.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use afbus_binder::{Parcel, Runtime, RuntimeConfig, TransactionCode};
use afbus_servicemanager::{bus_path, ServiceManager};
use afbus_transport::{BusSocket, Event, Fields, Watch};
use clap::{Parser, Subcommand};
use serde_json::{json, Value};

/// Talk to an afbus bus.
#[derive(Parser)]
#[command(version, about)]
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
    /// List the registered services with their owners.
    List,
    /// Wait until a service is registered.
    Wait {
        /// The service name.
        name: String,
        /// Seconds to wait.
        #[arg(long, default_value_t = 5.0)]
        timeout: f64,
    },
    /// Call a service: typed arguments in, the reply out.
    Call {
        /// The service name.
        name: String,
        /// The transaction code.
        code: u32,
        /// Arguments as TYPE VALUE pairs (i32 5 str hello bool true ...).
        args: Vec<String>,
        /// How to decode the reply: comma-separated types.
        #[arg(long)]
        reply: Option<String>,
    },
    /// Show every endpoint of the bus: address, pid, uid, names, frames queued in the master.
    Status,
    /// Print multicast signals (matching KEY=VALUE fields) and bus notices as they come.
    Monitor {
        /// Fields a signal must carry.
        rule: Vec<String>,
    },
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(out) => {
            print(&out, args.json);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("afbus: {e}");
            ExitCode::FAILURE
        }
    }
}

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// What a command printed: lines of text, or one JSON value.
struct Out {
    text: Vec<String>,
    json: Value,
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
            Ok(Out {
                text: services
                    .iter()
                    .map(|s| format!("{}\tpid {}\tuid {}", s.name, s.pid, s.uid))
                    .collect(),
                json: Value::Array(
                    services
                        .iter()
                        .map(|s| json!({"name": s.name, "pid": s.pid, "uid": s.uid}))
                        .collect(),
                ),
            })
        }
        Command::Wait { name, timeout } => {
            let sm = ServiceManager::connect(&rt, &bus)?;
            sm.wait_for_service(name, Duration::from_secs_f64(*timeout))?;
            Ok(Out {
                text: vec![format!("{name} is registered")],
                json: json!({"name": name, "registered": true}),
            })
        }
        Command::Call {
            name,
            code,
            args,
            reply,
        } => {
            let sm = ServiceManager::connect(&rt, &bus)?;
            let service = sm.get_service(name)?;
            let data = encode_args(args)?;
            let mut r = service.transact(TransactionCode(*code), data)?;
            match reply {
                Some(types) => {
                    let values = decode_reply(&mut r, types)?;
                    Ok(Out {
                        text: values.iter().map(Value::to_string).collect(),
                        json: Value::Array(values),
                    })
                }
                None => {
                    let hex: String = r.as_bytes().iter().map(|b| format!("{b:02x}")).collect();
                    Ok(Out {
                        text: vec![format!("reply: {} bytes: {hex}", r.len())],
                        json: json!({"reply_hex": hex}),
                    })
                }
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
                    Event::PeerGone(id) => json!({"peer_gone": id.to_string()}),
                    Event::Incoming { .. } => continue,
                };
                println!("{line}");
            }
        }
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
                other => return Err(format!("unknown reply type {other:?}").into()),
            })
        })
        .collect()
}
