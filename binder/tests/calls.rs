//! Calls across processes: sync, one-way, callbacks, objects and fds in parcels, concurrency,
//! timeouts, malformed input.

#[path = "../../transport/tests/common/mod.rs"]
mod common;
mod service;

use std::os::fd::AsFd;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use afbus_binder::{
    Binder, CallContext, ExceptionCode, Parcel, RuntimeConfig, SpIBinder, Status, StatusCode,
    TransactionCode, MAX_PARCEL_BYTES,
};
use afbus_transport::{FrameKind, Header, Target};
use common::{child_role, with_timeout};
use service::*;

#[test]
fn child_entry() {
    let Some((role, bus)) = child_role() else {
        return;
    };
    match role.as_str() {
        "server" => serve(&bus),
        other => panic!("unknown role {other}"),
    }
}

fn echo(svc: &SpIBinder, text: &str) -> afbus_binder::Result<String> {
    let mut p = Parcel::new();
    p.write_str(text);
    Ok(svc.transact(ECHO, p)?.read_string()?)
}

#[test]
fn a_sync_call_reaches_another_process_and_returns() {
    with_timeout(60, || {
        let w = World::new(RuntimeConfig::default());
        let svc = w.svc();
        assert_eq!(echo(&svc, "hello").unwrap(), "hello");
        svc.ping().unwrap();
        assert_eq!(svc.descriptor().unwrap(), "org.test.ISvc");
        assert_eq!(
            code_of(svc.transact(TransactionCode(999), Parcel::new())),
            StatusCode::UNKNOWN_TRANSACTION
        );
        let failed = svc.transact(FAIL, Parcel::new()).unwrap_err();
        let afbus_binder::Error::Service(status) = failed else {
            panic!("{failed}")
        };
        assert_eq!(
            (status.exception_code(), status.service_specific_code()),
            (ExceptionCode::SERVICE_SPECIFIC, 42)
        );
        assert_eq!(status.message(), "asked to fail");
        let again = w.rt.get_service(&w.endpoint, SVC).unwrap();
        assert_eq!(again, svc, "two lookups give one proxy");
        // The suite runs over both paths: shared memory by default, the socket with AFBUS_SHM=0.
        assert_eq!(
            svc.uses_shared_memory(),
            afbus_transport::shm::shm_default()
        );
    })
}

#[test]
fn a_thousand_one_way_calls_arrive_once_and_in_order() {
    with_timeout(60, || {
        let w = World::new(RuntimeConfig::default());
        let svc = w.svc();
        for i in 0..1000 {
            let mut p = Parcel::new();
            p.write_i32(i);
            svc.transact_oneway_blocking(LOG, p).unwrap();
        }
        let mut p = Parcel::new();
        p.write_i32(1000);
        let log: Vec<i32> = svc.transact(WAIT_LOG, p).unwrap().read_vec().unwrap();
        assert_eq!(log, (0..1000).collect::<Vec<_>>());
    })
}

/// A receiver that is not running at all (stopped, as one not yet scheduled on a busy machine
/// would be) still takes a burst of small one-way calls within its budget, without reading.
#[test]
fn a_receiver_that_is_not_running_takes_a_burst_of_small_one_way_calls() {
    use nix::sys::signal::{kill, Signal};
    use nix::unistd::Pid;
    // One i32 each: the smallest calls there are, the most frames the budget allows.
    const BURST: i32 = 1000;
    with_timeout(60, || {
        let w = World::new(RuntimeConfig::default());
        let svc = w.svc();
        svc.ping().unwrap();
        let server = Pid::from_raw(w.server.pid());
        kill(server, Signal::SIGSTOP).unwrap();
        let sent: Vec<_> = (0..BURST)
            .map(|i| {
                let mut p = Parcel::new();
                p.write_i32(i);
                svc.transact_oneway(LOG, p)
            })
            .collect();
        kill(server, Signal::SIGCONT).unwrap();
        if let Some((i, Err(e))) = sent.iter().enumerate().find(|(_, r)| r.is_err()) {
            panic!(
                "call {i} of {BURST} refused while the receiver was stopped: {e} \
                 (net.core.wmem_max must be at least CHANNEL_SEND_BUFFER on the socket path)"
            );
        }
        let mut p = Parcel::new();
        p.write_i32(BURST);
        let log: Vec<i32> = svc.transact(WAIT_LOG, p).unwrap().read_vec().unwrap();
        assert_eq!(log, (0..BURST).collect::<Vec<_>>());
    })
}

#[test]
fn a_full_one_way_buffer_is_an_error_then_recovers_and_loses_nothing() {
    with_timeout(60, || {
        let w = World::new(RuntimeConfig::default());
        let svc = w.svc();
        let gate = w.gate();
        let filler = vec![0u8; 4096];
        let mut sent = 0;
        let full = loop {
            let mut p = Parcel::new();
            p.write_i32(sent);
            p.write_bytes(&filler);
            match svc.transact_oneway(GATED_LOG, p) {
                Ok(()) => sent += 1,
                Err(e) => break e,
            }
            assert!(sent < 100_000, "the buffer never filled");
        };
        // The sender fills the channel faster than the receiver reads it: whether the runtime's
        // read-ahead limit or the socket buffer was reached first, the sender is told.
        assert_eq!(full.code(), StatusCode::WOULD_BLOCK, "{full}");
        assert!(sent > 0);

        gate.transact(OPEN_GATE, Parcel::new()).unwrap();
        for _ in 0..10 {
            let mut p = Parcel::new();
            p.write_i32(sent);
            p.write_bytes(&filler);
            svc.transact_oneway_blocking(GATED_LOG, p).unwrap();
            sent += 1;
        }
        let mut p = Parcel::new();
        p.write_i32(sent);
        let log: Vec<i32> = gate.transact(WAIT_LOG, p).unwrap().read_vec().unwrap();
        assert_eq!(
            log,
            (0..sent).collect::<Vec<_>>(),
            "every accepted call ran once, in order"
        );
    })
}

/// A release (we let go of an object given to us) that finds the channel to its owner full is
/// sent once there is room: the owner hears that its object's last reference went.
#[test]
fn a_release_that_finds_the_channel_full_goes_once_there_is_room() {
    with_timeout(60, || {
        let w = World::new(RuntimeConfig::default());
        w.rt.start_thread_pool();
        let svc = w.svc();
        let gate = w.gate();
        let child = svc
            .transact(MAKE_CHILD, Parcel::new())
            .unwrap()
            .read_binder()
            .unwrap();
        // The service stops reading the channel behind one-way calls its gate holds up.
        let filler = vec![0u8; 4096];
        let mut sent = 0;
        loop {
            let mut p = Parcel::new();
            p.write_i32(sent);
            p.write_bytes(&filler);
            match svc.transact_oneway(GATED_LOG, p) {
                Ok(()) => sent += 1,
                Err(e) if e.code() == StatusCode::WOULD_BLOCK => break,
                Err(e) => panic!("{e}"),
            }
        }
        drop(child);
        // The release has met the full channel (the release timer fires within 5 ms).
        std::thread::sleep(Duration::from_millis(100));
        let gone = |gate: &SpIBinder| -> u32 {
            gate.transact(CHILD_REFS_GONE, Parcel::new())
                .unwrap()
                .read_u32()
                .unwrap()
        };
        assert_eq!(gone(&gate), 0, "the release went through a full channel?");
        gate.transact(OPEN_GATE, Parcel::new()).unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while gone(&gate) == 0 {
            assert!(
                std::time::Instant::now() < deadline,
                "the owner never heard the release"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    })
}

struct Callback {
    calls: AtomicUsize,
    /// The thread that must run the callback, if it matters.
    thread: Option<std::thread::ThreadId>,
}

impl Binder for Callback {
    fn descriptor(&self) -> &str {
        "org.test.ICallback"
    }
    fn on_transact(
        &self,
        _: TransactionCode,
        data: &mut Parcel,
        reply: &mut Parcel,
        _: &CallContext,
    ) -> Result<(), Status> {
        if let Some(t) = self.thread {
            assert_eq!(
                std::thread::current().id(),
                t,
                "the waiting thread runs the callback"
            );
        }
        self.calls.fetch_add(1, Ordering::SeqCst);
        reply.write_str(&format!("cb:{}", data.read_string()?));
        Ok(())
    }
}

#[test]
fn a_single_threaded_client_takes_a_callback_during_its_own_call() {
    with_timeout(60, || {
        let w = World::new(RuntimeConfig {
            max_threads: 0,
            ..RuntimeConfig::default()
        });
        let svc = w.svc();
        let cb = Arc::new(Callback {
            calls: AtomicUsize::new(0),
            thread: Some(std::thread::current().id()),
        });
        let local = w.rt.local_arc(cb.clone());
        for round in 0..3 {
            let mut p = Parcel::new();
            p.write_binder(&local);
            p.write_str(&format!("r{round}"));
            let mut reply = svc.transact(CALL_BACK, p).unwrap();
            assert_eq!(reply.read_string().unwrap(), format!("cb:r{round}"));
        }
        assert_eq!(cb.calls.load(Ordering::SeqCst), 3);
    })
}

#[test]
fn object_identity_survives_the_round_trip() {
    with_timeout(60, || {
        let w = World::new(RuntimeConfig::default());
        let svc = w.svc();
        let cb = Arc::new(Callback {
            calls: AtomicUsize::new(0),
            thread: Some(std::thread::current().id()),
        });
        let local = w.rt.local_arc(cb);
        let mut p = Parcel::new();
        p.write_binder(&local);
        let back = svc.transact(ECHO_BINDER, p).unwrap().read_binder().unwrap();
        assert!(back.is_local());
        assert_eq!(back, local, "our object came home as itself");

        // A proxy we pass back to its owner is the owner's local object there.
        let child = svc
            .transact(MAKE_CHILD, Parcel::new())
            .unwrap()
            .read_binder()
            .unwrap();
        assert!(!child.is_local());
        child.ping().unwrap();
        let mut p = Parcel::new();
        p.write_binder(&child);
        assert!(svc.transact(IS_CHILD, p).unwrap().read_bool().unwrap());
        let mut p = Parcel::new();
        p.write_binder(&child);
        let again = svc.transact(ECHO_BINDER, p).unwrap().read_binder().unwrap();
        assert_eq!(again, child, "one proxy per remote object");
    })
}

#[test]
fn an_fd_travels_and_is_used() {
    with_timeout(60, || {
        let w = World::new(RuntimeConfig::default());
        let svc = w.svc();
        let (r, wr) = nix::unistd::pipe().unwrap();
        let mut p = Parcel::new();
        p.write_fd(wr);
        p.write_str("through the pipe");
        svc.transact(WRITE_FD, p).unwrap();
        let mut buf = [0u8; 64];
        let n = nix::unistd::read(r.as_fd(), &mut buf).unwrap();
        assert_eq!(&buf[..n], b"through the pipe");
    })
}

#[test]
fn calls_through_one_proxy_run_concurrently() {
    with_timeout(60, || {
        let w = World::new(RuntimeConfig::default());
        let svc = w.svc();
        // The handler waits for four callers at a barrier: served one after another, the calls
        // would never finish.
        std::thread::scope(|s| {
            for _ in 0..4 {
                let svc = svc.clone();
                s.spawn(move || svc.transact(BARRIER, Parcel::new()).unwrap());
            }
        });
    })
}

#[test]
fn a_timed_out_call_fails_and_its_late_reply_is_discarded() {
    with_timeout(60, || {
        let w = World::new(RuntimeConfig::default());
        let svc = w.svc();
        let mut p = Parcel::new();
        p.write_bool(false);
        p.write_u64(500);
        let late = svc.transact_timeout(SLEEP, p, Duration::from_millis(50));
        assert_eq!(code_of(late), StatusCode::TIMED_OUT);
        std::thread::sleep(Duration::from_millis(600));
        assert_eq!(echo(&svc, "after").unwrap(), "after");
    })
}

#[test]
fn a_malformed_parcel_is_an_error_and_the_server_keeps_serving() {
    with_timeout(60, || {
        let w = World::new(RuntimeConfig::default());
        let svc = w.svc();
        let mut p = Parcel::new();
        p.write_u32(u32::MAX); // a string length far beyond the data
        assert_eq!(
            exception_of(svc.transact(ECHO, p)),
            ExceptionCode::BAD_PARCELABLE
        );

        // Below the parcel: frames whose binder framing is garbage, on a raw channel.
        let (raw, _) = w
            .endpoint
            .connect_to(&Target::Name(SVC.parse().unwrap()))
            .unwrap();
        let intro = raw.recv_timeout(Duration::from_secs(10)).unwrap();
        assert_eq!(intro.header.kind, FrameKind::OneWay);
        for (txn, junk) in [(1u64, vec![]), (2, vec![0xff; 36]), (3, vec![0xff; 200])] {
            raw.send(
                &Header::new(FrameKind::Request)
                    .with_code(ECHO.0)
                    .with_txn(txn),
                &junk,
                &[],
            )
            .unwrap();
            let reply = raw.recv_timeout(Duration::from_secs(10)).unwrap();
            assert_eq!(
                (reply.header.kind, reply.header.txn),
                (FrameKind::Reply, txn)
            );
        }
        raw.send(
            &Header::new(FrameKind::OneWay).with_code(LOG.0),
            &[1, 2, 3],
            &[],
        )
        .unwrap();
        assert_eq!(echo(&svc, "still serving").unwrap(), "still serving");
    })
}

#[test]
fn a_panicking_handler_fails_its_call_and_the_object_goes_on() {
    with_timeout(60, || {
        let w = World::new(RuntimeConfig::default());
        let svc = w.svc();
        assert_eq!(
            exception_of(svc.transact(PANIC, Parcel::new())),
            ExceptionCode::ILLEGAL_STATE
        );
        // A panicking one-way call does not wedge the object's one-way queue.
        svc.transact_oneway_blocking(PANIC, Parcel::new()).unwrap();
        let mut p = Parcel::new();
        p.write_i32(7);
        svc.transact_oneway_blocking(LOG, p).unwrap();
        let mut p = Parcel::new();
        p.write_i32(1);
        let log: Vec<i32> = svc.transact(WAIT_LOG, p).unwrap().read_vec().unwrap();
        assert_eq!(log, vec![7]);
    })
}

#[test]
fn a_one_way_handler_can_call_its_caller_back() {
    with_timeout(60, || {
        let w = World::new(RuntimeConfig::default());
        w.rt.start_thread_pool();
        let svc = w.svc();
        let cb = Arc::new(Callback {
            calls: AtomicUsize::new(0),
            thread: None,
        });
        let mut p = Parcel::new();
        p.write_binder(&w.rt.local_arc(cb.clone()));
        p.write_str("later");
        svc.transact_oneway(ONEWAY_CALL_BACK, p).unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while cb.calls.load(Ordering::SeqCst) == 0 {
            assert!(
                std::time::Instant::now() < deadline,
                "the callback never came"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    })
}

#[test]
fn a_peer_cannot_reach_objects_it_holds_no_reference_to() {
    with_timeout(60, || {
        let w = World::new(RuntimeConfig::default());
        let (raw, _) = w
            .endpoint
            .connect_to(&Target::Name(SVC.parse().unwrap()))
            .unwrap();
        raw.recv_timeout(Duration::from_secs(10)).unwrap();
        // A well-formed PING call, first to the channel's own object (target 0), then probing
        // the numbers of the service's other objects.
        for target in 0u64..6 {
            let mut trailer = Vec::new();
            trailer.extend_from_slice(&0u16.to_le_bytes()); // no principal
            trailer.extend_from_slice(&target.to_le_bytes());
            trailer.extend_from_slice(&[0; 16]); // caller runtime, nested-in
            trailer.push(0); // SCHED_OTHER
            trailer.extend_from_slice(&[0; 4 + 2 + 2 + 4]); // nice 0, no fds, no objects, no data
            let header = Header::new(FrameKind::Request)
                .with_code(TransactionCode::PING.0)
                .with_txn(target + 1);
            raw.send(&header, &trailer, &[]).unwrap();
            let reply = raw.recv_timeout(Duration::from_secs(10)).unwrap();
            let n = reply.payload.len();
            let exception = i32::from_le_bytes(reply.payload[n - 20..n - 16].try_into().unwrap());
            assert_eq!(exception == 0, target == 0, "target {target}");
        }
    })
}

#[test]
fn a_parcel_too_large_for_a_frame_spills_into_a_memfd_up_to_the_limit() {
    with_timeout(120, || {
        let w = World::new(RuntimeConfig::default());
        let svc = w.svc();
        // Both ways: the call and its reply are each larger than a frame.
        let text = "spill".repeat(300_000);
        assert_eq!(echo(&svc, &text).unwrap(), text);
        // At the edge: data of exactly MAX_PARCEL_BYTES goes (4 bytes of it are the length).
        let body: Vec<u8> = (0..MAX_PARCEL_BYTES - 4).map(|i| (i % 251) as u8).collect();
        let mut p = Parcel::new();
        p.write_bytes(&body);
        let mut r = svc.transact(BYTES_SUM, p).unwrap();
        assert_eq!(r.read_u64().unwrap(), body.len() as u64);
        assert_eq!(
            r.read_u64().unwrap(),
            body.iter().map(|&b| u64::from(b)).sum::<u64>()
        );
        // One byte more is refused before anything is sent; the proxy goes on working.
        let mut p = Parcel::new();
        p.write_bytes(&vec![0u8; MAX_PARCEL_BYTES - 3]);
        assert_eq!(code_of(svc.transact(BYTES_SUM, p)), StatusCode::BAD_VALUE);
        assert_eq!(echo(&svc, "after").unwrap(), "after");
    })
}

#[test]
fn a_large_payload_travels_as_a_sealed_memfd() {
    with_timeout(60, || {
        let w = World::new(RuntimeConfig::default());
        let svc = w.svc();
        let data: Vec<u8> = (0..4 * 1024 * 1024u32).map(|i| (i % 253) as u8).collect();
        let mut p = Parcel::new();
        p.write_blob(&data).unwrap();
        let mut r = svc.transact(BLOB_SUM, p).unwrap();
        assert_eq!(r.read_u64().unwrap(), data.len() as u64);
        assert_eq!(
            r.read_u64().unwrap(),
            data.iter().map(|&b| u64::from(b)).sum::<u64>()
        );
    })
}
