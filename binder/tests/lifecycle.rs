//! Identity, priority, death and reference counts, with real processes and SIGKILL.

#[path = "../../transport/tests/common/mod.rs"]
mod common;
mod service;

use std::os::fd::AsFd;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use afbus_binder::{
    DeathRecipient, Parcel, Priority, Runtime, RuntimeConfig, SchedPolicy, SpIBinder, StatusCode,
};
use afbus_transport::BusSocket;
use common::{child_role, with_timeout, TestBus};
use service::*;

#[test]
fn child_entry() {
    let Some((role, bus)) = child_role() else {
        return;
    };
    match role.as_str() {
        "server" => serve(&bus),
        // Holds a reference to the service until killed.
        "holder" => {
            let rt = Runtime::new(RuntimeConfig::default()).unwrap();
            let endpoint = BusSocket::connect(&bus).unwrap();
            let svc = rt.get_service(&endpoint, SVC).unwrap();
            svc.ping().unwrap();
            let mut p = Parcel::new();
            p.write_i32(7);
            svc.transact(LOG, p).unwrap();
            std::thread::sleep(Duration::from_secs(3600));
        }
        // Logs 1 (its sign to the test), then waits in a long call until killed.
        "sleeper" => {
            let rt = Runtime::new(RuntimeConfig::default()).unwrap();
            let endpoint = BusSocket::connect(&bus).unwrap();
            let svc = rt.get_service(&endpoint, SVC).unwrap();
            let mut p = Parcel::new();
            p.write_i32(1);
            svc.transact(LOG, p).unwrap();
            let mut p = Parcel::new();
            p.write_bool(false);
            p.write_u64(500);
            let _ = svc.transact(SLEEP, p);
            std::thread::sleep(Duration::from_secs(3600));
        }
        // Runs out of fds: a call whose reply brings one fails cleanly, a reference still
        // comes (it needs no fd), and once fds are free again the first call works.
        "starved" => {
            use nix::sys::resource::{getrlimit, setrlimit, Resource};
            let rt = Runtime::new(RuntimeConfig::default()).unwrap();
            let endpoint = BusSocket::connect(&bus).unwrap();
            let svc = rt.get_service(&endpoint, SVC).unwrap();
            // On shared memory, the reply to the next call is the one that switches the
            // service's direction to its ring: losing it must not lose the switch.
            svc.transact(NEW_FD, Parcel::new()).unwrap();
            let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
            // The lowest free fd number: below it every number is taken.
            let lowest = nix::unistd::dup(std::io::stdin()).unwrap();
            let free_from = std::os::fd::AsRawFd::as_raw_fd(&lowest) as u64;
            drop(lowest);
            setrlimit(Resource::RLIMIT_NOFILE, free_from, hard).unwrap();
            let starved = svc.transact(NEW_FD, Parcel::new());
            let child = svc
                .transact(MAKE_CHILD, Parcel::new())
                .and_then(|mut r| Ok(r.read_binder()?));
            setrlimit(Resource::RLIMIT_NOFILE, soft, hard).unwrap();
            let code = starved.expect_err("no fd to receive the reply's in").code();
            child
                .expect("a reference given over the channel needs no fd")
                .ping()
                .unwrap();
            svc.transact(NEW_FD, Parcel::new()).unwrap();
            // The exit code tells the test which error the starved call got.
            std::process::exit(if code == afbus_binder::StatusCode::FAILED_TRANSACTION {
                0
            } else {
                3
            });
        }
        // Drops to nobody, then calls.
        "nobody" => {
            nix::unistd::setgid(nix::unistd::Gid::from_raw(65534)).unwrap();
            nix::unistd::setuid(nix::unistd::Uid::from_raw(65534)).unwrap();
            let rt = Runtime::new(RuntimeConfig::default()).unwrap();
            let endpoint = BusSocket::connect(&bus).unwrap();
            rt.get_service(&endpoint, SVC)
                .unwrap()
                .transact(WHOAMI, Parcel::new())
                .unwrap();
        }
        // Calls as root on both paths, drops to nobody, and calls again on the same channels;
        // then a forked child calls on them: each call is seen as its caller is now.
        "drops-privileges" => {
            let whoami = |svc: &afbus_binder::SpIBinder| {
                let mut r = svc.transact(WHOAMI, Parcel::new()).unwrap();
                (
                    r.read_i32().unwrap(),
                    r.read_u32().unwrap(),
                    r.read_u32().unwrap(),
                )
            };
            let pid = std::process::id() as i32;
            let endpoint = BusSocket::connect(&bus).unwrap();
            let runtimes: Vec<Runtime> = [true, false]
                .map(|shm| {
                    Runtime::new(RuntimeConfig {
                        shm,
                        ..RuntimeConfig::default()
                    })
                    .unwrap()
                })
                .into();
            let svcs: Vec<_> = runtimes
                .iter()
                .map(|rt| rt.get_service(&endpoint, SVC).unwrap())
                .collect();
            for svc in &svcs {
                for _ in 0..3 {
                    assert_eq!(whoami(svc), (pid, 0, 0));
                }
            }
            nix::unistd::setgid(nix::unistd::Gid::from_raw(65534)).unwrap();
            nix::unistd::setuid(nix::unistd::Uid::from_raw(65534)).unwrap();
            for svc in &svcs {
                assert_eq!(whoami(svc), (pid, 65534, 65534));
            }
            // SAFETY: the child only makes calls through the runtime and exits.
            match unsafe { nix::unistd::fork() }.unwrap() {
                nix::unistd::ForkResult::Child => {
                    let child = std::process::id() as i32;
                    // On shared memory the rings stayed with the parent: the channel is dead
                    // to the child. On the socket it is the child that calls.
                    let on_ring = svcs[0].transact(WHOAMI, Parcel::new());
                    let ok = on_ring.is_err() && whoami(&svcs[1]) == (child, 65534, 65534);
                    std::process::exit(if ok { 0 } else { 3 });
                }
                nix::unistd::ForkResult::Parent { child } => {
                    let status = nix::sys::wait::waitpid(child, None).unwrap();
                    assert_eq!(status, nix::sys::wait::WaitStatus::Exited(child, 0));
                }
            }
        }
        // Keeps SCHED_FIFO 10 from its root days, drops to uid 65534, and calls: the service
        // (root) must not take a real-time priority from a caller of another uid, but a lower
        // one is fine.
        "fifo-nobody" => {
            let fifo10 = Priority {
                policy: SchedPolicy::Fifo,
                level: 10,
            };
            fifo10.apply().expect("root may take SCHED_FIFO");
            nix::unistd::setgid(nix::unistd::Gid::from_raw(65534)).unwrap();
            nix::unistd::setuid(nix::unistd::Uid::from_raw(65534)).unwrap();
            let rt = Runtime::new(RuntimeConfig::default()).unwrap();
            let endpoint = BusSocket::connect(&bus).unwrap();
            let svc = rt.get_service(&endpoint, SVC).unwrap();
            let mut r = svc.transact(PRIORITY, Parcel::new()).unwrap();
            let (_, rt_seen, _, applied) = (
                r.read_i32().unwrap(),
                r.read_bool().unwrap(),
                r.read_i32().unwrap(),
                r.read_bool().unwrap(),
            );
            assert!(
                !rt_seen && !applied,
                "a foreign caller raised the service's priority"
            );
            Priority {
                policy: SchedPolicy::Other,
                level: 5,
            }
            .apply()
            .unwrap();
            let mut r = svc.transact(PRIORITY, Parcel::new()).unwrap();
            let (_, rt_seen, level, applied) = (
                r.read_i32().unwrap(),
                r.read_bool().unwrap(),
                r.read_i32().unwrap(),
                r.read_bool().unwrap(),
            );
            assert!(
                !rt_seen && applied && level == 5,
                "a lower priority is taken"
            );
        }
        other => panic!("unknown role {other}"),
    }
}

/// The service served by this process, on a private bus.
struct Local {
    bus: TestBus,
    shared: Arc<Shared>,
    _rt: Arc<Runtime>,
}

fn serve_here() -> Local {
    serve_here_with(RuntimeConfig::default())
}

fn serve_here_with(config: RuntimeConfig) -> Local {
    let bus = TestBus::new();
    let rt = Arc::new(Runtime::new(config).unwrap());
    rt.start_thread_pool();
    let endpoint = Arc::new(BusSocket::connect(bus.path()).unwrap());
    let shared = Arc::new(Shared::default());
    let svc = rt.local(Service::new(shared.clone(), &rt));
    rt.publish(&endpoint, SVC, &svc).unwrap();
    Local {
        bus,
        shared,
        _rt: rt,
    }
}

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

#[test]
#[ignore = "needs root: the caller drops to uid 65534 (CI runs it with --ignored, as root)"]
fn the_callee_sees_the_callers_kernel_identity() {
    assert!(is_root(), "this test needs root");
    with_timeout(60, || {
        let here = serve_here();
        let child = here.bus.spawn("nobody");
        let pid = child.pid();
        child.wait_success();
        let ctx = here
            .shared
            .last_caller
            .lock()
            .take()
            .expect("the child called");
        assert_eq!(
            (ctx.caller().uid, ctx.caller().gid, ctx.caller().pid),
            (65534, 65534, pid)
        );
    })
}

#[test]
#[ignore = "needs root: the caller drops to uid 65534 (CI runs it with --ignored, as root)"]
fn the_callee_sees_the_callers_current_identity_on_both_paths() {
    assert!(is_root(), "this test needs root");
    with_timeout(60, || {
        let here = serve_here();
        here.bus.spawn("drops-privileges").wait_success();
    })
}

#[test]
#[ignore = "needs root: SCHED_FIFO, then uid 65534 (CI runs it with --ignored, as root)"]
fn a_caller_of_another_uid_may_lower_the_callees_priority_but_not_raise_it() {
    assert!(is_root(), "this test needs root");
    with_timeout(60, || {
        let here = serve_here();
        here.bus.spawn("fifo-nobody").wait_success();
    })
}

/// An object with nothing to do.
struct Sink;

impl afbus_binder::Binder for Sink {
    fn descriptor(&self) -> &str {
        "org.test.ISink"
    }

    fn on_transact(
        &self,
        _: afbus_binder::TransactionCode,
        _: &mut Parcel,
        _: &mut Parcel,
        _: &afbus_binder::CallContext,
    ) -> Result<(), afbus_binder::Status> {
        Ok(())
    }
}

#[test]
fn a_runtime_without_loopers_does_not_keep_the_references_it_handed_out() {
    with_timeout(60, || {
        let w = World::new(RuntimeConfig {
            max_threads: 0,
            ..RuntimeConfig::default()
        });
        let svc = w.svc();
        let round = || {
            // The service gets a reference to a local object and hands it back; then it drops
            // its proxy, and the channel behind it hangs up.
            let mut p = Parcel::new();
            p.write_binder(&w.rt.local(Sink));
            let mut r = svc.transact(ECHO_BINDER, p).unwrap();
            assert!(r.read_binder().unwrap().is_local());
        };
        for _ in 0..20 {
            round();
        }
        let before = common::open_fds();
        for _ in 0..200 {
            round();
        }
        let grown = common::open_fds().saturating_sub(before);
        assert!(grown < 20, "{grown} fds kept for references long gone");
    })
}

#[test]
fn killing_a_client_drops_its_reference_and_the_owner_is_told() {
    with_timeout(60, || {
        let here = serve_here();
        let mut child = here.bus.spawn("holder");
        // The holder's one-way call is its sign that it holds the reference.
        {
            let mut log = here.shared.last_refs_gone.lock();
            assert_eq!(*log, 0);
            drop(log);
            let rt = Runtime::new(RuntimeConfig::default()).unwrap();
            let me = BusSocket::connect(here.bus.path()).unwrap();
            let svc = rt.get_service(&me, SVC).unwrap();
            let mut p = Parcel::new();
            p.write_i32(1);
            svc.transact(WAIT_LOG, p).unwrap();
            // Our own reference goes now: one holder is left.
            drop(svc);
            log = here.shared.last_refs_gone.lock();
            assert_eq!(*log, 0, "the child still holds a reference");
        }
        child.kill();
        let mut gone = here.shared.last_refs_gone.lock();
        while *gone == 0 {
            here.shared
                .last_ref_cv
                .wait_for(&mut gone, Duration::from_secs(20));
        }
        assert_eq!(*gone, 1);
    })
}

#[test]
fn killing_the_server_during_a_call_fails_it_with_dead_object_and_recipients_run_once() {
    with_timeout(60, || {
        let mut w = World::new(RuntimeConfig::default());
        w.rt.start_thread_pool();
        let svc = w.svc();
        let other = w.gate();
        let died = Arc::new(AtomicUsize::new(0));
        let counter = died.clone();
        let recipient: Arc<dyn DeathRecipient> = Arc::new(move || {
            counter.fetch_add(1, Ordering::SeqCst);
        });
        svc.link_to_death(recipient.clone()).unwrap();
        other.link_to_death(recipient.clone()).unwrap();
        let spare: Arc<dyn DeathRecipient> = Arc::new(|| panic!("unlinked recipients do not run"));
        svc.link_to_death(spare.clone()).unwrap();
        svc.unlink_to_death(&spare).unwrap();

        let (r, wr) = nix::unistd::pipe().unwrap();
        let caller = {
            let svc = svc.clone();
            std::thread::spawn(move || {
                let mut p = Parcel::new();
                p.write_bool(true);
                p.write_fd(wr);
                p.write_u64(3_600_000);
                svc.transact(SLEEP, p)
            })
        };
        let mut b = [0u8; 1];
        nix::unistd::read(r.as_fd(), &mut b).unwrap(); // the server is inside the call
        w.server.kill();
        let err = caller.join().unwrap().unwrap_err();
        assert_eq!(err.code(), StatusCode::DEAD_OBJECT, "{err}");
        // Both proxies' recipients run, once each, whichever thread saw the hang-up first.
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while died.load(Ordering::SeqCst) < 2 && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(died.load(Ordering::SeqCst), 2);
        assert!(!svc.is_alive());
        assert_eq!(svc.ping().unwrap_err().code(), StatusCode::DEAD_OBJECT);
        assert_eq!(
            svc.link_to_death(recipient).unwrap_err().code(),
            StatusCode::DEAD_OBJECT
        );
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(died.load(Ordering::SeqCst), 2, "never twice");
    })
}

/// Calls PRIORITY from a fresh thread running at `p`; returns (tid, realtime, level, applied).
fn priority_seen(svc: &SpIBinder, p: Priority) -> Option<(i32, bool, i32, bool)> {
    let svc = svc.clone();
    std::thread::spawn(move || {
        if p.apply().is_err() {
            return None;
        }
        let mut r = svc.transact(PRIORITY, Parcel::new()).unwrap();
        Some((
            r.read_i32().unwrap(),
            r.read_bool().unwrap(),
            r.read_i32().unwrap(),
            r.read_bool().unwrap(),
        ))
    })
    .join()
    .unwrap()
}

fn nice_of(svc: &SpIBinder, tid: i32) -> i32 {
    let mut p = Parcel::new();
    p.write_i32(tid);
    svc.transact(NICE_OF, p).unwrap().read_i32().unwrap()
}

#[test]
fn the_callee_runs_at_the_callers_nice_value_and_returns_to_its_own() {
    with_timeout(60, || {
        let w = World::new(RuntimeConfig::default());
        let svc = w.svc();
        let nice5 = Priority {
            policy: SchedPolicy::Other,
            level: 5,
        };
        let (tid, rt, level, applied) =
            priority_seen(&svc, nice5).expect("raising nice is allowed");
        assert!(!rt);
        assert!(applied, "a thread may always lower its own priority");
        assert_eq!(level, 5, "the handler ran at the caller's nice value");
        assert_eq!(nice_of(&svc, tid), 0, "and went back to its own afterwards");
    })
}

#[test]
#[ignore = "needs SCHED_FIFO (root or RLIMIT_RTPRIO; CI runs it with --ignored, as root)"]
fn the_callee_runs_at_the_callers_realtime_priority() {
    with_timeout(60, || {
        let w = World::new(RuntimeConfig::default());
        let svc = w.svc();
        let fifo10 = Priority {
            policy: SchedPolicy::Fifo,
            level: 10,
        };
        let (_, rt, level, applied) =
            priority_seen(&svc, fifo10).expect("this process may take SCHED_FIFO");
        assert!(
            applied,
            "the server may take the caller's real-time priority"
        );
        assert_eq!((rt, level), (true, 10));
    })
}

const FIFO10: Priority = Priority {
    policy: SchedPolicy::Fifo,
    level: 10,
};

/// A thread of this process's scheduling policy and real-time priority, from `/proc`.
fn policy_of(tid: i32) -> (i32, i32) {
    let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).unwrap();
    let after: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    // Fields 40 (rt_priority) and 41 (policy), counted from 1 with the command as field 2.
    (after[38].parse().unwrap(), after[37].parse().unwrap())
}

#[test]
#[ignore = "needs SCHED_FIFO (root or RLIMIT_RTPRIO; CI runs it with --ignored, as root)"]
fn loopers_wait_at_the_priority_ceiling_and_lower_themselves_for_lower_callers() {
    with_timeout(60, || {
        let here = serve_here_with(RuntimeConfig {
            priority_ceiling: Some(FIFO10),
            ..RuntimeConfig::default()
        });
        let rt = Runtime::new(RuntimeConfig::default()).unwrap();
        let me = BusSocket::connect(here.bus.path()).unwrap();
        let svc = rt.get_service(&me, SVC).unwrap();
        // A caller at the ceiling: the looper is there already.
        let (tid, realtime, level, applied) = priority_seen(&svc, FIFO10).unwrap();
        assert!(applied && realtime && level == 10);
        assert_eq!(
            policy_of(tid),
            (libc::SCHED_FIFO, 10),
            "it waits at the ceiling"
        );
        // A caller below it: the looper lowers itself for the call, then goes back up.
        let (tid, realtime, level, applied) = priority_seen(&svc, Priority::DEFAULT).unwrap();
        assert!(
            applied && !realtime && level == 0,
            "the call ran at SCHED_OTHER"
        );
        assert_eq!(
            policy_of(tid),
            (libc::SCHED_FIFO, 10),
            "and the looper waits at the ceiling again"
        );
        let nice5 = Priority {
            policy: SchedPolicy::Other,
            level: 5,
        };
        let (_, realtime, level, applied) = priority_seen(&svc, nice5).unwrap();
        assert!(applied && !realtime && level == 5);
    })
}

#[test]
#[ignore = "needs root: SCHED_FIFO, then uid 65534 (CI runs it with --ignored, as root)"]
fn a_caller_of_another_uid_does_not_keep_the_callee_at_its_ceiling() {
    assert!(is_root(), "this test needs root");
    with_timeout(60, || {
        // The looper waits at SCHED_FIFO 10; the foreign caller claims SCHED_FIFO 10 and must
        // be served at the service's own priority all the same.
        let here = serve_here_with(RuntimeConfig {
            priority_ceiling: Some(FIFO10),
            ..RuntimeConfig::default()
        });
        here.bus.spawn("fifo-nobody").wait_success();
    })
}

#[test]
fn killing_a_client_mid_call_frees_the_servers_thread_and_its_reference() {
    with_timeout(60, || {
        let here = serve_here();
        let mut child = here.bus.spawn("sleeper");
        let rt = Runtime::new(RuntimeConfig::default()).unwrap();
        let me = BusSocket::connect(here.bus.path()).unwrap();
        let svc = rt.get_service(&me, SVC).unwrap();
        // The sleeper logged 1 just before its long call.
        let mut p = Parcel::new();
        p.write_i32(1);
        svc.transact(WAIT_LOG, p).unwrap();
        child.kill();
        // Our reference is not the child's: the service goes on serving, and once the killed
        // call's handler ends, its reply finds no one and the thread serves again.
        for i in 0..20 {
            let mut p = Parcel::new();
            p.write_str(&format!("still {i}"));
            let mut r = svc.transact(ECHO, p).unwrap();
            assert_eq!(r.read_string().unwrap(), format!("still {i}"));
        }
        drop(svc);
        let mut gone = here.shared.last_refs_gone.lock();
        while *gone == 0 {
            assert!(!here
                .shared
                .last_ref_cv
                .wait_for(&mut gone, Duration::from_secs(20))
                .timed_out());
        }
    })
}

#[test]
fn running_out_of_fds_fails_a_call_cleanly_and_recovers() {
    with_timeout(60, || {
        let here = serve_here();
        let child = here.bus.spawn("starved");
        child.wait_success();
    })
}

#[test]
fn a_revoked_object_dies_for_its_holders_and_lives_on_for_new_ones() {
    with_timeout(60, || {
        let bus = TestBus::new();
        let rt = Arc::new(Runtime::new(RuntimeConfig::default()).unwrap());
        rt.start_thread_pool();
        let endpoint = Arc::new(BusSocket::connect(bus.path()).unwrap());
        let svc = rt.local(Service::new(Arc::default(), &rt));
        rt.publish(&endpoint, SVC, &svc).unwrap();
        let client = Runtime::new(RuntimeConfig::default()).unwrap();
        client.start_thread_pool();
        let held = client
            .get_service(&BusSocket::connect(bus.path()).unwrap(), SVC)
            .unwrap();
        held.ping().unwrap();
        let died = Arc::new(AtomicUsize::new(0));
        let counter = died.clone();
        let recipient: Arc<dyn DeathRecipient> = Arc::new(move || {
            counter.fetch_add(1, Ordering::SeqCst);
        });
        held.link_to_death(recipient).unwrap();
        assert_eq!(rt.revoke(&svc), 1, "one reference channel");
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while died.load(Ordering::SeqCst) == 0 && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(died.load(Ordering::SeqCst), 1, "the holder was told");
        assert_eq!(held.ping().unwrap_err().code(), StatusCode::DEAD_OBJECT);
        // The object is still there for a new reference.
        let again = client
            .get_service(&BusSocket::connect(bus.path()).unwrap(), SVC)
            .unwrap();
        again.ping().unwrap();
        assert_eq!(
            rt.revoke(&client.local(Service::new(Arc::default(), &rt))),
            0
        );
    })
}

#[test]
fn a_call_names_whom_it_is_made_for_beside_the_kernels_identity() {
    use afbus_binder::{on_behalf_of, Binder, CallContext, Status, TransactionCode};

    struct Who;
    impl Binder for Who {
        fn descriptor(&self) -> &str {
            "org.afbus.test.IWho"
        }
        fn on_transact(
            &self,
            _: TransactionCode,
            _: &mut Parcel,
            reply: &mut Parcel,
            ctx: &CallContext,
        ) -> Result<(), Status> {
            reply.write_str(ctx.acting_for().unwrap_or("-"));
            reply.write_i32(ctx.caller().pid);
            Ok(())
        }
    }
    with_timeout(60, || {
        let bus = TestBus::new();
        let server = Runtime::new(RuntimeConfig::default()).unwrap();
        server.start_thread_pool();
        let endpoint = Arc::new(BusSocket::connect(bus.path()).unwrap());
        server
            .publish(&endpoint, "org.afbus.Who", &server.local(Who))
            .unwrap();
        let client = Runtime::new(RuntimeConfig::default()).unwrap();
        let svc = client
            .get_service(&BusSocket::connect(bus.path()).unwrap(), "org.afbus.Who")
            .unwrap();
        let ask = |svc: &SpIBinder| {
            let mut r = svc
                .transact(TransactionCode::FIRST_CALL, Parcel::new())
                .unwrap();
            (r.read_string().unwrap(), r.read_i32().unwrap())
        };
        let me = std::process::id() as i32;
        assert_eq!(ask(&svc), ("-".to_string(), me));
        assert_eq!(on_behalf_of("hostb", || ask(&svc)), ("hostb".into(), me));
        assert_eq!(ask(&svc).0, "-", "only inside on_behalf_of");
        let local = client.local(Who);
        assert_eq!(on_behalf_of("hostc", || ask(&local)).0, "hostc");
        let longest = "p".repeat(afbus_binder::MAX_PRINCIPAL_LEN);
        assert_eq!(on_behalf_of(&longest, || ask(&svc)).0, longest);
        // A parcel at the edge of a frame still goes (spilled if it must) with the longest
        // principal.
        let max = afbus_transport::MAX_PAYLOAD_BYTES;
        for n in (max - 400..max - 200).step_by(8) {
            let mut data = Parcel::new();
            data.write_bytes(&vec![7; n]);
            let mut r = on_behalf_of(&longest, || svc.transact(TransactionCode::FIRST_CALL, data))
                .unwrap_or_else(|e| panic!("{n} bytes: {e}"));
            assert_eq!(r.read_string().unwrap(), longest);
        }
        let e = on_behalf_of(&format!("{longest}p"), || {
            svc.transact(TransactionCode::FIRST_CALL, Parcel::new())
        })
        .unwrap_err();
        assert_eq!(e.code(), StatusCode::BAD_VALUE, "{e}");
    })
}
