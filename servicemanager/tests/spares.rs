//! A get hands over a reference the service minted ahead: it needs no round trip to the
//! service's process (it succeeds while every thread of the service is busy), and the service
//! counts a reference only once it has been handed over, never the spares the service manager
//! keeps.

#[path = "../../transport/tests/common/mod.rs"]
mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use afbus_binder::{
    Binder, CallContext, Parcel, Runtime, RuntimeConfig, Status, StatusCode, TransactionCode,
    MINT_AHEAD_BATCH,
};
use afbus_servicemanager::{PrivateBus, ServiceManager};
use common::with_timeout;
use parking_lot::{Condvar, Mutex};

const NAME: &str = "test.spares.Gated";
const NULL: TransactionCode = TransactionCode(1);
/// Holds the calling thread until the gate opens.
const WAIT_GATE: TransactionCode = TransactionCode(2);
/// Generous bound for a wait that should end at once; a hang guard, not a timing check.
const WAIT: Duration = Duration::from_secs(20);

#[derive(Default)]
struct State {
    refs: Mutex<usize>,
    refs_changed: Condvar,
    gate_open: Mutex<bool>,
    gate: Condvar,
    waiting: Mutex<bool>,
    started_waiting: Condvar,
}

struct Gated(Arc<State>);

impl Binder for Gated {
    fn descriptor(&self) -> &str {
        "org.test.IGated"
    }
    fn on_transact(
        &self,
        code: TransactionCode,
        _: &mut Parcel,
        _: &mut Parcel,
        _: &CallContext,
    ) -> Result<(), Status> {
        match code {
            NULL => Ok(()),
            WAIT_GATE => {
                *self.0.waiting.lock() = true;
                self.0.started_waiting.notify_all();
                let mut open = self.0.gate_open.lock();
                while !*open {
                    self.0.gate.wait(&mut open);
                }
                Ok(())
            }
            _ => Err(StatusCode::UNKNOWN_TRANSACTION.into()),
        }
    }
    fn on_refs_changed(&self, count: usize) {
        *self.0.refs.lock() = count;
        self.0.refs_changed.notify_all();
    }
}

impl State {
    /// Waits until the service counts `want` references.
    fn wait_refs(&self, want: usize) {
        let deadline = Instant::now() + WAIT;
        let mut refs = self.refs.lock();
        while *refs != want {
            assert!(
                !self
                    .refs_changed
                    .wait_until(&mut refs, deadline)
                    .timed_out(),
                "the service counts {} references, not {want}",
                *refs
            );
        }
    }
}

/// This process's open fds.
fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, Iterator::count)
}

/// A client of its own: a runtime that holds nothing of the service yet.
fn client(bus: &PrivateBus) -> (Runtime, ServiceManager) {
    let rt = Runtime::new(RuntimeConfig::default()).unwrap();
    let sm = ServiceManager::connect(&rt, bus.path()).unwrap();
    (rt, sm)
}

#[test]
fn a_get_needs_no_round_trip_to_the_service_and_spares_are_not_references() {
    with_timeout(120, || {
        let bus = PrivateBus::start().unwrap();
        let state = Arc::new(State::default());
        // One looper: while it waits at the gate, nothing of the service's can mint.
        let service = Runtime::new(RuntimeConfig {
            max_threads: 1,
            ..RuntimeConfig::default()
        })
        .unwrap();
        service.start_thread_pool();
        let service_sm = ServiceManager::connect(&service, bus.path()).unwrap();
        service_sm
            .add_service(NAME, &service.local(Gated(state.clone())))
            .unwrap();
        // The service manager's reference.
        state.wait_refs(1);

        // The first get mints while the client waits, and has the service manager start
        // keeping spares: a batch of channels, two fds each in this process (the service's
        // end and the service manager's), which come while the service is free.
        let (_a_rt, a_sm) = client(&bus);
        let before = open_fds();
        let a = a_sm.get_service(NAME).unwrap();
        a.transact(NULL, Parcel::new()).unwrap();
        state.wait_refs(2);
        let deadline = Instant::now() + WAIT;
        while open_fds() < before + 2 * MINT_AHEAD_BATCH {
            assert!(Instant::now() < deadline, "no spares were minted");
            std::thread::sleep(Duration::from_millis(5));
        }

        // A get while the service's only looper is held: served from a spare. (A get that
        // had to mint would fail after the daemon's peer timeout; the test tries again, as the
        // spares may still be on their way.)
        let deadline = Instant::now() + WAIT;
        let (b_rt, b_sm, b) = loop {
            *state.gate_open.lock() = false;
            *state.waiting.lock() = false;
            let waiter = {
                let a = a.clone();
                std::thread::spawn(move || a.transact(WAIT_GATE, Parcel::new()).map(drop))
            };
            {
                let mut waiting = state.waiting.lock();
                while !*waiting {
                    state.started_waiting.wait(&mut waiting);
                }
            }
            let (rt, sm) = client(&bus);
            let got = sm.get_service(NAME);
            *state.gate_open.lock() = true;
            state.gate.notify_all();
            waiter.join().unwrap().unwrap();
            match got {
                Ok(b) => break (rt, sm, b),
                Err(e) => {
                    assert!(Instant::now() < deadline, "no get succeeded: {e}");
                    assert_eq!(e.code(), StatusCode::TIMED_OUT, "{e}");
                }
            }
        };
        // Handed over, and counted before the holder's first call: the service manager says
        // whom its spare went to once the service's looper is free again.
        state.wait_refs(3);
        b.transact(NULL, Parcel::new()).unwrap();
        assert_eq!(*state.refs.lock(), 3);

        // A third client's get, and everyone letting go: the spares the service manager
        // holds were never references.
        let (_c_rt, c_sm) = client(&bus);
        let c = c_sm.get_service(NAME).unwrap();
        c.transact(NULL, Parcel::new()).unwrap();
        state.wait_refs(4);
        drop((b, b_sm, b_rt, c, a));
        state.wait_refs(1);
    })
}
