//! A new user's first service, through the service manager: the client registers a listener
//! object with the service, then fires one-way calls at it, which must never be refused while
//! the idle service has room, on either path.

#[path = "../../transport/tests/common/mod.rs"]
mod common;

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use afbus_binder::{
    Binder, CallContext, Parcel, Runtime, RuntimeConfig, SpIBinder, Status, StatusCode,
    TransactionCode,
};
use afbus_servicemanager::{PrivateBus, ServiceManager};
use common::{child_role, spawn_role, with_timeout, BUS_VAR};
use parking_lot::Mutex;

const NAME: &str = "test.Notes";
const ADD_LISTENER: TransactionCode = TransactionCode(1);
const TOUCH: TransactionCode = TransactionCode(2);
const TOUCHED: TransactionCode = TransactionCode(3);

/// The notes service: keeps its listeners, counts one-way touches.
#[derive(Default)]
struct Notes {
    listeners: Mutex<Vec<SpIBinder>>,
    touched: AtomicI64,
}

impl Binder for Notes {
    fn descriptor(&self) -> &str {
        "test.INotes"
    }
    fn on_transact(
        &self,
        code: TransactionCode,
        data: &mut Parcel,
        reply: &mut Parcel,
        _: &CallContext,
    ) -> Result<(), Status> {
        match code {
            ADD_LISTENER => self.listeners.lock().push(data.read_binder()?),
            TOUCH => {
                let id = data.read_i64()?;
                self.touched.fetch_add(id, Ordering::SeqCst);
            }
            TOUCHED => reply.write_i64(self.touched.load(Ordering::SeqCst)),
            _ => return Err(StatusCode::UNKNOWN_TRANSACTION.into()),
        }
        Ok(())
    }
}

/// A listener nobody calls.
struct Listener;

impl Binder for Listener {
    fn descriptor(&self) -> &str {
        "test.INotesListener"
    }
    fn on_transact(
        &self,
        _: TransactionCode,
        _: &mut Parcel,
        _: &mut Parcel,
        _: &CallContext,
    ) -> Result<(), Status> {
        Ok(())
    }
}

#[test]
fn child_entry() {
    let Some((role, bus)) = child_role() else {
        return;
    };
    match role.as_str() {
        "notes" => {
            let rt = Runtime::new(RuntimeConfig::default()).unwrap();
            rt.start_thread_pool();
            let sm = ServiceManager::connect(&rt, &bus).unwrap();
            sm.add_service(NAME, &rt.local(Notes::default())).unwrap();
            loop {
                std::thread::sleep(Duration::from_secs(3600));
            }
        }
        other => panic!("unknown role {other}"),
    }
}

fn register_then_touch(shm: bool) {
    let bus = PrivateBus::start().unwrap();
    let _notes = spawn_role("notes", &[(BUS_VAR, bus.path().to_str().unwrap())]);
    for round in 0..10 {
        let rt = Runtime::new(RuntimeConfig {
            shm,
            ..RuntimeConfig::default()
        })
        .unwrap();
        rt.start_thread_pool();
        let sm = ServiceManager::connect(&rt, bus.path()).unwrap();
        let notes = sm.wait_for_service(NAME, Duration::from_secs(20)).unwrap();
        let mut p = Parcel::new();
        p.write_binder(&rt.local(Listener));
        notes.transact(ADD_LISTENER, p).unwrap();
        let before = notes
            .transact(TOUCHED, Parcel::new())
            .unwrap()
            .read_i64()
            .unwrap();
        for i in 0..500 {
            let mut p = Parcel::new();
            p.write_i64(1);
            if let Err(e) = notes.transact_oneway(TOUCH, p) {
                panic!("shm {shm}, round {round}: touch {i} refused: {e}");
            }
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            let now = notes
                .transact(TOUCHED, Parcel::new())
                .unwrap()
                .read_i64()
                .unwrap();
            if now - before == 500 {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "only {} ran",
                now - before
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

#[test]
fn touches_after_a_listener_are_never_refused_on_shared_memory() {
    with_timeout(120, || register_then_touch(true));
}

#[test]
fn touches_after_a_listener_are_never_refused_on_the_socket() {
    with_timeout(120, || register_then_touch(false));
}
