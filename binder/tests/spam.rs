//! One-way spam detection: a process holding more than `MAX_ONEWAY_BYTES_PER_SENDER` of a
//! runtime's unrun one-way calls, across all its channels, is refused on every channel until its
//! backlog halves, while other processes are still served; nothing accepted is lost.
//!
//! The test process is the sender, on three channels to the service (one per runtime, each under
//! the per-channel limit); a gate holds the service's one-way queue so nothing drains until the
//! test opens it.

#[path = "../../transport/tests/common/mod.rs"]
mod common;
mod service;

use afbus_binder::{
    Parcel, Runtime, RuntimeConfig, SpIBinder, StatusCode, MAX_ONEWAY_BYTES_PER_SENDER,
    MAX_PENDING_ONEWAY_BYTES,
};
use afbus_transport::BusSocket;
use common::{child_role, with_timeout, TestBus};
use service::*;

/// Sequence numbers are `channel * SEQ_STRIDE + i`.
const SEQ_STRIDE: i32 = 1_000_000;
/// A bystander's calls, numbered from here.
const BYSTANDER_SEQ: i32 = 9 * SEQ_STRIDE;
const FILLER: usize = 8 * 1024;

#[test]
fn child_entry() {
    let Some((role, bus)) = child_role() else {
        return;
    };
    match role.as_str() {
        "server" => serve(&bus),
        // Another process: its one-way calls are accepted while the spammer is refused.
        "bystander" => {
            let rt = Runtime::new(RuntimeConfig::default()).unwrap();
            let endpoint = BusSocket::connect(&bus).unwrap();
            let svc = rt.get_service(&endpoint, SVC).unwrap();
            for i in 0..4 {
                svc.transact_oneway(GATED_LOG, gated(BYSTANDER_SEQ + i))
                    .expect("a process under its limit is not refused");
            }
            std::process::exit(0);
        }
        other => panic!("unknown role {other}"),
    }
}

/// Sends the next one-way call on channel `c`, counting it if it was accepted.
fn send(chans: &[SpIBinder], sent: &mut [i32; 3], c: usize) -> afbus_binder::Result<()> {
    let r = chans[c].transact_oneway(GATED_LOG, gated(c as i32 * SEQ_STRIDE + sent[c]));
    if r.is_ok() {
        sent[c] += 1;
    }
    r
}

fn gated(seq: i32) -> Parcel {
    let mut p = Parcel::new();
    p.write_i32(seq);
    p.write_bytes(&[0u8; FILLER]);
    p
}

/// The service's view of this process's one-way backlog: (bytes, refused).
fn backlog(gate: &SpIBinder) -> (usize, bool) {
    let mut p = Parcel::new();
    p.write_i32(std::process::id() as i32);
    let mut r = gate.transact(ONEWAY_BACKLOG, p).unwrap();
    (r.read_u64().unwrap() as usize, r.read_bool().unwrap())
}

/// Asks the service until `done` holds of this process's backlog (it reads asynchronously).
fn wait_backlog(gate: &SpIBinder, done: impl Fn(usize, bool) -> bool) -> (usize, bool) {
    loop {
        let (bytes, refused) = backlog(gate);
        if done(bytes, refused) {
            return (bytes, refused);
        }
        std::thread::yield_now();
    }
}

/// The service's log of GATED_LOG calls once it holds `n` entries.
fn wait_log(gate: &SpIBinder, n: i32) -> Vec<i32> {
    loop {
        let mut p = Parcel::new();
        p.write_i32(n);
        let log: Vec<i32> = gate.transact(WAIT_LOG, p).unwrap().read_vec().unwrap();
        if log.len() >= n as usize {
            return log;
        }
    }
}

#[test]
fn a_sender_over_its_one_way_budget_is_refused_on_every_channel_and_recovers() {
    with_timeout(120, || {
        let bus = TestBus::new();
        let _server = bus.spawn("server");
        let endpoint = BusSocket::connect(bus.path()).unwrap();
        wait_for_name(&endpoint, SVC);
        wait_for_name(&endpoint, GATE);
        // Three runtimes: three channels from this one process to the same object.
        let runtimes: Vec<Runtime> = (0..3)
            .map(|_| Runtime::new(RuntimeConfig::default()).unwrap())
            .collect();
        let chans: Vec<SpIBinder> = runtimes
            .iter()
            .map(|rt| rt.get_service(&endpoint, SVC).unwrap())
            .collect();
        let gate = runtimes[0].get_service(&endpoint, GATE).unwrap();
        let mut sent = [0i32; 3];

        // One call, held by the gate, gives the size a call takes in the service's backlog.
        send(&chans, &mut sent, 0).unwrap();
        let (per_call, _) = wait_backlog(&gate, |b, _| b > 0);
        assert!(per_call > FILLER);
        let per_channel = (MAX_PENDING_ONEWAY_BYTES - 1) / per_call;
        let just_under = (MAX_ONEWAY_BYTES_PER_SENDER - 1) / per_call;
        assert!(
            just_under < 3 * per_channel,
            "three channels can hold the budget"
        );

        // Just under the budget, spread over the channels: every call is read, none refused.
        for n in 1..just_under {
            send(&chans, &mut sent, n % 3).unwrap();
        }
        let (bytes, refused) = wait_backlog(&gate, |b, _| b == just_under * per_call);
        assert!(bytes < MAX_ONEWAY_BYTES_PER_SENDER && !refused);

        // One more call crosses it: the sender is refused.
        send(&chans, &mut sent, just_under % 3).unwrap();
        wait_backlog(&gate, |_, refused| refused);

        // Every channel of the sender now stops being read: each fills and says WOULD_BLOCK.
        for c in 0..3 {
            let full = loop {
                if let Err(e) = send(&chans, &mut sent, c) {
                    break e;
                }
                assert!(sent[c] < 100_000, "channel {c} never filled");
            };
            assert_eq!(full.code(), StatusCode::WOULD_BLOCK, "{full}");
        }
        // What the service holds is bounded: the budget plus at most one call per channel.
        let (held, refused) = backlog(&gate);
        assert!(refused);
        assert!(
            held <= (just_under + 1) * per_call + 3 * per_call,
            "held {held} bytes"
        );

        // Another process is not refused for this one's backlog.
        bus.spawn("bystander").wait_success();

        // Draining ends the episode: everything accepted is read and run, then the sender's
        // channels take calls again.
        gate.transact(OPEN_GATE, Parcel::new()).unwrap();
        let accepted = sent.iter().sum::<i32>() + 4;
        wait_log(&gate, accepted);
        wait_backlog(&gate, |b, refused| b == 0 && !refused);
        for c in 0..3 {
            send(&chans, &mut sent, c).expect("the sender is served again");
        }
        let total = accepted + 3;
        let log = wait_log(&gate, total);
        assert_eq!(log.len(), total as usize, "every accepted call ran once");
        for (c, &n) in sent.iter().enumerate() {
            let base = c as i32 * SEQ_STRIDE;
            let mine: Vec<i32> = log
                .iter()
                .copied()
                .filter(|s| (base..base + SEQ_STRIDE).contains(s))
                .collect();
            assert_eq!(
                mine,
                (base..base + n).collect::<Vec<_>>(),
                "channel {c}: in order"
            );
        }
        let theirs = log.iter().filter(|&&s| s >= BYSTANDER_SEQ).count();
        assert_eq!(theirs, 4, "the bystander's calls ran");
    })
}
