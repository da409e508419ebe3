//! Round trip of a brokered channel against a raw socketpair ping-pong, in the same run.
//!
//! `cargo bench --bench channel [-- --quick] [--iters N]`
//!
//! The echo side runs in a child process that joins a private bus and owns a name; the parent
//! connects to it through the master (a brokered channel) and also hands it one end of a raw
//! `SOCK_SEQPACKET` socketpair over that channel. Rows alternate in chunks (raw, channel, raw,
//! ...) so both see the same machine, pinned to one CPU and to two, and each row's p50 is divided
//! by the raw row's p50 measured beside it.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use afbus::transport::{
    AllowAll, BusMaster, BusSocket, Channel, Event, FrameKind, Header, QueueMode, Target,
    WellKnownName,
};
use nix::sched::{sched_setaffinity, CpuSet};
use nix::sys::socket::{self, MsgFlags};
use nix::unistd::Pid;

const NAME: &str = "org.afbus.bench.Echo";
const ROLE_VAR: &str = "AFBUS_BENCH_ROLE";
const CPU_VAR: &str = "AFBUS_BENCH_CPU";
/// Frame code of the message that hands the raw socket to the echo process.
const CODE_RAW_FD: u32 = 1;

type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

fn main() -> Result {
    if std::env::var(ROLE_VAR).is_ok() {
        return echo_process();
    }
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    let iters = args
        .windows(2)
        .find(|w| w[0] == "--iters")
        .map(|w| w[1].parse())
        .transpose()?
        .unwrap_or(if quick { 20_000 } else { 100_000 });
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());

    let dir = tempfile::tempdir()?;
    let master = BusMaster::bind(dir.path().join("bus"), AllowAll)?.spawn()?;
    println!(
        "round trips per row: {iters} (after {} warm-up), chunks of {CHUNK}",
        iters / 10
    );
    println!();
    println!("| transport | payload | pin | p50 µs | p90 µs | p99 µs | p99.9 µs | max µs | mean µs | p50 / raw |");
    println!("|---|---|---|---|---|---|---|---|---|---|");
    let pins: &[(&str, usize)] = if cpus >= 2 {
        &[("same", 0), ("cross", 1)]
    } else {
        &[("same", 0)]
    };
    for &(pin, child_cpu) in pins {
        pin_to(0)?;
        let mut child = spawn_echo(master.path(), child_cpu)?;
        let me = BusSocket::connect(master.path())?;
        let (channel, _) = connect_when_ready(&me)?;
        let (raw, theirs) = socketpair()?;
        channel.send(
            &Header::new(FrameKind::OneWay).with_code(CODE_RAW_FD),
            b"",
            &[theirs.as_fd()],
        )?;
        drop(theirs);
        for payload in [32usize, 4096] {
            let (raw_s, chan_s) = measure(&raw, &channel, payload, iters)?;
            let raw_p50 = percentile(&raw_s, 50.0);
            print_row("raw-seqpacket", payload, pin, &raw_s, raw_p50);
            print_row("afbus-channel", payload, pin, &chan_s, raw_p50);
        }
        drop(channel);
        drop(raw);
        child.kill()?;
        child.wait()?;
    }
    Ok(())
}

/// Round trips per chunk before switching to the other transport.
const CHUNK: usize = 1000;

/// Interleaved measurement: returns (raw samples, channel samples) in nanoseconds.
fn measure(
    raw: &OwnedFd,
    channel: &Channel,
    payload: usize,
    iters: usize,
) -> Result<(Vec<u64>, Vec<u64>)> {
    let msg = vec![0xa5u8; payload];
    let mut buf = vec![0u8; payload + 64];
    let header = Header::new(FrameKind::Request);
    let mut raw_rt = || -> Result<u64> {
        let t = Instant::now();
        socket::send(raw.as_raw_fd(), &msg, MsgFlags::MSG_NOSIGNAL)?;
        let n = socket::recv(raw.as_raw_fd(), &mut buf, MsgFlags::empty())?;
        let dt = t.elapsed();
        assert_eq!(n, payload);
        Ok(dt.as_nanos() as u64)
    };
    let chan_rt = |txn: u64| -> Result<u64> {
        let t = Instant::now();
        channel.send(&header.with_txn(txn), &msg, &[])?;
        let reply = channel.recv()?;
        let dt = t.elapsed();
        assert_eq!((reply.header.txn, reply.payload.len()), (txn, payload));
        Ok(dt.as_nanos() as u64)
    };
    for i in 0..iters / 10 {
        raw_rt()?;
        chan_rt(i as u64)?;
    }
    let (mut raw_s, mut chan_s) = (Vec::with_capacity(iters), Vec::with_capacity(iters));
    let mut txn = 0;
    while raw_s.len() < iters {
        for _ in 0..CHUNK.min(iters - raw_s.len()) {
            raw_s.push(raw_rt()?);
        }
        for _ in 0..CHUNK.min(iters - chan_s.len()) {
            txn += 1;
            chan_s.push(chan_rt(txn)?);
        }
    }
    raw_s.sort_unstable();
    chan_s.sort_unstable();
    Ok((raw_s, chan_s))
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    let i = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn print_row(transport: &str, payload: usize, pin: &str, s: &[u64], raw_p50: u64) {
    let us = |ns: u64| format!("{:.2}", ns as f64 / 1000.0);
    let mean = s.iter().sum::<u64>() / s.len() as u64;
    let p50 = percentile(s, 50.0);
    println!(
        "| {transport} | {payload} B | {pin} | {} | {} | {} | {} | {} | {} | {:.2}x |",
        us(p50),
        us(percentile(s, 90.0)),
        us(percentile(s, 99.0)),
        us(percentile(s, 99.9)),
        us(*s.last().unwrap()),
        us(mean),
        p50 as f64 / raw_p50 as f64,
    );
}

fn pin_to(cpu: usize) -> Result {
    let mut set = CpuSet::new();
    set.set(cpu)?;
    sched_setaffinity(Pid::from_raw(0), &set)?;
    Ok(())
}

fn socketpair() -> Result<(OwnedFd, OwnedFd)> {
    Ok(socket::socketpair(
        socket::AddressFamily::Unix,
        socket::SockType::SeqPacket,
        None,
        socket::SockFlag::SOCK_CLOEXEC,
    )?)
}

fn spawn_echo(bus: &std::path::Path, cpu: usize) -> Result<Child> {
    Ok(Command::new(std::env::current_exe()?)
        .env(ROLE_VAR, "echo")
        .env(CPU_VAR, cpu.to_string())
        .env("AFBUS_BENCH_BUS", bus)
        .spawn()?)
}

fn connect_when_ready(me: &BusSocket) -> Result<(Channel, afbus::transport::PeerInfo)> {
    let name: WellKnownName = NAME.parse()?;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match me.connect_to(&Target::Name(name.clone())) {
            Ok(c) => return Ok(c),
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => return Err(e.into()),
        }
    }
}

/// The child: echoes every frame on brokered channels, and every datagram on the raw socket it
/// is handed.
fn echo_process() -> Result {
    pin_to(std::env::var(CPU_VAR)?.parse()?)?;
    let me = BusSocket::connect(std::env::var("AFBUS_BENCH_BUS")?)?;
    me.request_name(&NAME.parse()?, QueueMode::Queue)?;
    loop {
        let Event::Incoming { channel, .. } = me.recv_event(None)? else {
            continue;
        };
        std::thread::spawn(move || -> Result {
            loop {
                let mut frame = channel.recv()?;
                if frame.header.code == CODE_RAW_FD {
                    let raw = frame.fds.pop().ok_or("raw fd missing")?;
                    std::thread::spawn(move || raw_echo(raw));
                    continue;
                }
                let reply = Header::new(FrameKind::Reply).with_txn(frame.header.txn);
                channel.send(&reply, &frame.payload, &[])?;
            }
        });
    }
}

fn raw_echo(raw: OwnedFd) -> Result {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = socket::recv(raw.as_raw_fd(), &mut buf, MsgFlags::empty())?;
        if n == 0 {
            return Ok(());
        }
        socket::send(raw.as_raw_fd(), &buf[..n], MsgFlags::MSG_NOSIGNAL)?;
    }
}
