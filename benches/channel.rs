//! Round trip of a brokered channel against a raw socketpair ping-pong, in the same run.
//!
//! `cargo bench --bench channel [-- --quick] [--iters N]`
//!
//! The echo side runs in a child process that joins a private bus and owns a name; the parent
//! connects to it through the master (a brokered channel) and also hands it one end of a raw
//! `SOCK_SEQPACKET` socketpair over that channel. Rows alternate in chunks (raw, channel, raw,
//! ...) so both see the same machine, pinned to one CPU and to two, and each row's p50 is divided
//! by the raw row's p50 measured beside it.

mod common;

use std::os::fd::AsFd;

use afbus::transport::{
    AllowAll, BusMaster, BusSocket, Event, FrameKind, Header, QueueMode, Target,
};
use common::*;

const NAME: &str = "org.afbus.bench.Echo";
/// Frame code of the message that hands the raw socket to the echo process.
const CODE_RAW_FD: u32 = 1;

fn main() -> Result {
    if let Some((_, bus)) = child_role()? {
        return echo_process(&bus);
    }
    let opts = Opts::from_args()?;
    let dir = tempfile::tempdir()?;
    let master = BusMaster::bind(dir.path().join("bus"), AllowAll)?.spawn()?;
    println!(
        "round trips per row: {} (after {} warm-up), alternating in chunks of {CHUNK}",
        opts.iters,
        opts.iters / 10
    );
    println!();
    print_header();
    for (pin, child_cpu) in pin_modes() {
        pin_to(0)?;
        let child = spawn_child("echo", child_cpu, master.path())?;
        let me = BusSocket::connect(master.path())?;
        let name: afbus::transport::WellKnownName = NAME.parse()?;
        let (channel, _) = retry(|| me.connect_to(&Target::Name(name.clone())))?;
        let (raw, theirs) = socketpair()?;
        channel.send(
            &Header::new(FrameKind::OneWay).with_code(CODE_RAW_FD),
            b"",
            &[theirs.as_fd()],
        )?;
        drop(theirs);
        for payload in [32usize, 4096] {
            let msg = vec![0xa5u8; payload];
            let mut buf = vec![0u8; payload + 64];
            let mut txn = 0;
            let (raw_s, chan_s) = interleaved(
                opts.iters,
                || raw_round_trip(&raw, &msg, &mut buf),
                || {
                    txn += 1;
                    timed(|| {
                        channel.send(&Header::new(FrameKind::Request).with_txn(txn), &msg, &[])?;
                        let reply = channel.recv()?;
                        assert_eq!((reply.header.txn, reply.payload.len()), (txn, payload));
                        Ok(())
                    })
                },
            )?;
            let raw_p50 = percentile(&raw_s, 50.0);
            print_row("raw-seqpacket", "ping-pong", payload, pin, &raw_s, raw_p50);
            print_row("afbus-channel", "ping-pong", payload, pin, &chan_s, raw_p50);
        }
        drop(child);
    }
    Ok(())
}

/// The child: echoes every frame on brokered channels, and every datagram on the raw socket it
/// is handed.
fn echo_process(bus: &str) -> Result {
    let me = BusSocket::connect(bus)?;
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
