//! The bridged call against a bare Zenoh query/reply, measured in the same run.
//!
//! `cargo bench -p afbus-bridge --features zenoh --bench bridge [-- --iters N --callers N
//! --seconds S]`
//!
//! - Bare: a query and its reply between two processes with the bridges' Zenoh configuration
//!   (a peer each, mutual TLS on loopback): this process asks, a child answers with the
//!   payload it got.
//! - Bridged: a client on bus B calls a service on bus A by name: client → bridge B → Zenoh →
//!   bridge A → service and back (four processes; the client is this one).
//!
//! Rows interleave in rounds, so that load changing on the machine falls on every row alike.
//! Each row prints p50, p90 and p99 in µs, and its p50 over the bare p50 of the same size.
//! Then calls per second with many concurrent callers, bridged and bare.

use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use afbus_binder::{Runtime, RuntimeConfig, Status};
use afbus_idl_e2e::org::afbus::test::ICallback::ICallbackProxy;
use afbus_idl_e2e::org::afbus::test::IConformance::{self, IConformance as _, IConformanceProxy};
use afbus_servicemanager::{PrivateBus, ServiceManager};
use hdrhistogram::Histogram;
use zenoh::query::{ConsolidationMode, QueryTarget};
use zenoh::sample::Locality;
use zenoh::Wait as _;

const ROLE: &str = "AFBUS_BRIDGE_BENCH_ROLE";
const NAME: &str = "org.afbus.test.Conformance";
/// A key the access control lets hostb query at hosta: the bare query goes through the same
/// checks as a bridged one.
const BARE_KEY: &str = "afbus/hosta/call/hostb/bench";

fn main() {
    match std::env::var(ROLE).as_deref() {
        Ok("service") => serve(&std::env::var("BUS").expect("BUS")),
        Ok("echo") => echo(&std::env::var("CONFIG").expect("CONFIG")),
        _ => bench(),
    }
}

/// A service whose methods answer at once.
struct Service;

impl IConformance::IConformance for Service {
    fn echo(&self, text: &str) -> Result<String, Status> {
        Ok(text.to_owned())
    }
    fn record(&self, _: i32) -> Result<(), Status> {
        Ok(())
    }
    fn recorded(&self, _: i32) -> Result<Vec<i32>, Status> {
        Ok(Vec::new())
    }
    fn call_back(&self, _: &ICallbackProxy, _: &str) -> Result<String, Status> {
        Ok(String::new())
    }
    fn who_am_i(&self) -> Result<Vec<i32>, Status> {
        Ok(Vec::new())
    }
    fn read_fd(&self, _: &std::os::fd::OwnedFd) -> Result<String, Status> {
        Ok(String::new())
    }
    fn sleep(&self, _: i32) -> Result<(), Status> {
        Ok(())
    }
    fn sleeps_done(&self) -> Result<i32, Status> {
        Ok(0)
    }
    fn exit(&self) -> Result<(), Status> {
        std::process::exit(0)
    }
    fn slow_callback(&self, _: i32) -> Result<ICallbackProxy, Status> {
        Err(afbus_binder::StatusCode::UNKNOWN_TRANSACTION.into())
    }
    fn live_callbacks(&self) -> Result<i32, Status> {
        Ok(0)
    }
    fn handler_nice(&self) -> Result<i32, Status> {
        Ok(0)
    }
}

fn serve(bus: &str) -> ! {
    let rt = Arc::new(Runtime::new(RuntimeConfig::default()).expect("runtime"));
    rt.start_thread_pool();
    let service = IConformanceProxy::new_local(&rt, Service);
    let sm = ServiceManager::connect(&rt, bus).expect("service manager");
    sm.add_service(NAME, service.as_binder()).expect("add");
    loop {
        std::thread::park();
    }
}

/// The bare side: a queryable that answers each query with its payload.
fn echo(config: &str) -> ! {
    let session = open(config);
    let _queryable = session
        .declare_queryable(BARE_KEY)
        .allowed_origin(Locality::Remote)
        .callback(|query| {
            let payload = query.payload().cloned().unwrap_or_default();
            let _ = query
                .reply(query.key_expr().clone(), payload)
                .express(true)
                .wait();
        })
        .wait()
        .expect("queryable");
    loop {
        std::thread::park();
    }
}

fn open(config_toml: &str) -> zenoh::Session {
    let config = afbus_bridge::Config::load(Path::new(config_toml)).expect("config");
    let config = zenoh::Config::from_json5(&config.zenoh_json().to_string()).expect("zenoh config");
    zenoh::open(config).wait().expect("open")
}

fn certs() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/certs")
}

fn free_port() -> u16 {
    // QUIC listens on UDP.
    UdpSocket::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a port")
        .port()
}

fn bridge_toml(name: &str, bus: &Path, peers: &[&str], zenoh: &str, rest: &str) -> String {
    let certs = certs();
    format!(
        "name = \"{name}\"\nbus = \"{bus}\"\npeers = {peers:?}\n{rest}\n[zenoh]\n{zenoh}\n\
         [zenoh.tls]\nca = \"{ca}\"\ncert = \"{cert}\"\nkey = \"{key}\"\n",
        bus = bus.display(),
        ca = certs.join("ca.pem").display(),
        cert = certs.join(format!("{name}.pem")).display(),
        key = certs.join(format!("{name}.key")).display(),
    )
}

/// A child that is killed when this process is done with it.
struct Kid(Child);

impl Drop for Kid {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn_self(role: &str, env: &[(&str, &str)]) -> Kid {
    let mut cmd = Command::new(std::env::current_exe().expect("exe"));
    cmd.env(ROLE, role)
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    Kid(cmd.spawn().expect("spawn"))
}

fn spawn_bridge(dir: &Path, name: &str, toml: &str) -> Kid {
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, toml).expect("write");
    Kid(Command::new(env!("CARGO_BIN_EXE_afbus-bridge"))
        .arg("--config")
        .arg(&path)
        .env(
            "RUST_LOG",
            std::env::var("RUST_LOG").unwrap_or("warn".into()),
        )
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(match std::env::var_os("AFBUS_BRIDGE_BENCH_LOG") {
            Some(dir) => Stdio::from(
                std::fs::File::create(Path::new(&dir).join(format!("{name}.log"))).expect("log"),
            ),
            None => Stdio::null(),
        })
        .spawn()
        .expect("spawn afbus-bridge"))
}

struct Args {
    iters: usize,
    callers: usize,
    seconds: u64,
}

fn args() -> Args {
    let mut a = Args {
        iters: 5000,
        callers: 100,
        seconds: 2,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().and_then(|v| v.parse().ok()).expect("a number");
        match arg.as_str() {
            "--iters" => a.iters = value(),
            "--callers" => a.callers = value(),
            "--seconds" => a.seconds = value() as u64,
            _ => {} // cargo bench passes `--bench`
        }
    }
    a
}

/// Zenoh's side of a bare round trip: a query with `payload`, its one reply. False if no
/// reply came (the queryable is not known yet).
fn try_bare_call(session: &zenoh::Session, payload: &[u8]) -> bool {
    let replies = session
        .get(BARE_KEY)
        .payload(payload.to_vec())
        .target(QueryTarget::BestMatching)
        .consolidation(ConsolidationMode::None)
        .allowed_destination(Locality::Remote)
        .express(true)
        .wait()
        .expect("get");
    let Ok(reply) = replies.recv() else {
        return false;
    };
    assert_eq!(reply.result().expect("ok").payload().len(), payload.len());
    while replies.recv().is_ok() {}
    true
}

fn bare_call(session: &zenoh::Session, payload: &[u8]) {
    assert!(try_bare_call(session, payload), "no reply from the echo");
}

fn bench() {
    let args = args();
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();

    // Bare: this process and a child, each a Zenoh peer with the bridges' configuration.
    let port = free_port();
    let echo_toml = d.join("echo.toml");
    std::fs::write(
        &echo_toml,
        bridge_toml(
            "hosta",
            &d.join("none"),
            &["hostb"],
            &format!("listen = [\"quic/127.0.0.1:{port}\"]"),
            "",
        ),
    )
    .expect("write");
    let _echo = spawn_self("echo", &[("CONFIG", echo_toml.to_str().unwrap())]);
    let asker_toml = d.join("asker.toml");
    std::fs::write(
        &asker_toml,
        bridge_toml(
            "hostb",
            &d.join("none"),
            &["hosta"],
            &format!("connect = [\"quic/127.0.0.1:{port}\"]"),
            "",
        ),
    )
    .expect("write");
    let session = open(asker_toml.to_str().unwrap());

    // Bridged: two buses, a bridge each, the service on A, this process the client on B.
    let bus_a = PrivateBus::start().expect("bus a");
    let bus_b = PrivateBus::start().expect("bus b");
    let _service = spawn_self("service", &[("BUS", bus_a.path().to_str().unwrap())]);
    let policy = d.join("policy.toml");
    std::fs::write(
        &policy,
        "[[allow]]\nremote = \"hostb\"\nfind = [\"*\"]\ncall = [\"*\"]\n",
    )
    .expect("write");
    let bport = free_port();
    let _bridge_a = spawn_bridge(
        d,
        "hosta",
        &bridge_toml(
            "hosta",
            bus_a.path(),
            &["hostb"],
            &format!("listen = [\"quic/127.0.0.1:{bport}\"]"),
            &format!(
                "policy = \"{}\"\n[[export]]\nname = \"{NAME}\"",
                policy.display()
            ),
        ),
    );
    let _bridge_b = spawn_bridge(
        d,
        "hostb",
        &bridge_toml(
            "hostb",
            bus_b.path(),
            &["hosta"],
            &format!("connect = [\"quic/127.0.0.1:{bport}\"]"),
            &format!("[[import]]\nfrom = \"hosta\"\nname = \"{NAME}\""),
        ),
    );
    let rt = Runtime::new(RuntimeConfig::default()).expect("runtime");
    let sm = ServiceManager::connect(&rt, bus_b.path()).expect("sm b");
    let svc: IConformanceProxy = sm
        .wait_for_interface(NAME, Duration::from_secs(60))
        .expect("the imported service");

    // Warm up both paths (Zenoh's first operations are far slower than the rest).
    let big = "x".repeat(4096);
    let ready = Instant::now();
    while !try_bare_call(&session, b"") {
        assert!(
            ready.elapsed() < Duration::from_secs(30),
            "the echo never answered"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let warm = Instant::now();
    while warm.elapsed() < Duration::from_secs(1) {
        if !try_bare_call(&session, b"") {
            std::thread::sleep(Duration::from_millis(50));
        }
        svc.sleeps_done().expect("bridged call");
        svc.echo(&big).expect("bridged echo");
    }

    let rows: [(&str, usize); 4] = [
        ("zenoh-bare null 0 B", 0),
        ("afbus-bridged null", 0),
        ("zenoh-bare echo 4 KiB", 4096),
        ("afbus-bridged echo 4 KiB", 4096),
    ];
    let mut hist: Vec<Histogram<u64>> = rows
        .iter()
        .map(|_| Histogram::new_with_bounds(1, 60_000_000, 3).expect("histogram"))
        .collect();
    let payload = vec![7u8; 4096];
    let rounds = 10;
    for _ in 0..rounds {
        for (row, h) in hist.iter_mut().enumerate() {
            for _ in 0..args.iters / rounds {
                let t = Instant::now();
                match row {
                    0 => bare_call(&session, b""),
                    1 => {
                        svc.sleeps_done().expect("call");
                    }
                    2 => bare_call(&session, &payload),
                    _ => {
                        svc.echo(&big).expect("echo");
                    }
                }
                h.record(t.elapsed().as_nanos() as u64).expect("record");
            }
        }
    }
    println!(
        "\n{} calls per row in {rounds} interleaved rounds; µs",
        args.iters
    );
    println!(
        "{:<28} {:>9} {:>9} {:>9} {:>12}",
        "row", "p50", "p90", "p99", "p50 / bare"
    );
    for (row, (name, _)) in rows.iter().enumerate() {
        let h = &hist[row];
        let bare = hist[row & !1].value_at_quantile(0.5) as f64;
        let us = |q| h.value_at_quantile(q) as f64 / 1000.0;
        println!(
            "{name:<28} {:>9.1} {:>9.1} {:>9.1} {:>11.2}x",
            us(0.5),
            us(0.9),
            us(0.99),
            h.value_at_quantile(0.5) as f64 / bare
        );
    }

    // Throughput: many callers at once, each its own thread.
    let seconds = Duration::from_secs(args.seconds);
    let bridged = throughput(args.callers, seconds, || {
        svc.sleeps_done().expect("call");
    });
    let bare = throughput(args.callers, seconds, || bare_call(&session, b""));
    println!(
        "\n{} concurrent callers, {} s each: bridged null {:.0} calls/s, bare Zenoh {:.0} \
         queries/s ({:.2}x)",
        args.callers,
        args.seconds,
        bridged,
        bare,
        bridged / bare
    );
}

/// Calls per second that `callers` threads make together for `duration`.
fn throughput(callers: usize, duration: Duration, call: impl Fn() + Sync) -> f64 {
    let done = AtomicU64::new(0);
    let stop = AtomicBool::new(false);
    let started = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..callers {
            s.spawn(|| {
                while !stop.load(Ordering::Relaxed) {
                    call();
                    done.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        std::thread::sleep(duration);
        stop.store(true, Ordering::Relaxed);
    });
    done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}
