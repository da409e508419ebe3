//! A second registration of a live name is refused unless it asks to replace; a replaced owner
//! that watches its name is told; the names stay with their live owners.

#[path = "../../transport/tests/common/mod.rs"]
mod common;

use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use afbus_binder::{
    Binder, CallContext, ExceptionCode, Parcel, Runtime, RuntimeConfig, SpIBinder, Status,
    TransactionCode,
};
use afbus_servicemanager::{IServiceCallback, IServiceCallbackProxy, PrivateBus, ServiceManager};
use common::with_timeout;
use parking_lot::Mutex;

const NAME: &str = "test.Registered";

/// Says which registration it is.
struct Tagged(&'static str);

impl Binder for Tagged {
    fn descriptor(&self) -> &str {
        "test.ITagged"
    }
    fn on_transact(
        &self,
        _: TransactionCode,
        _: &mut Parcel,
        reply: &mut Parcel,
        _: &CallContext,
    ) -> Result<(), Status> {
        reply.write_str(self.0);
        Ok(())
    }
}

fn tag(svc: &SpIBinder) -> String {
    svc.transact(TransactionCode(1), Parcel::new())
        .unwrap()
        .read_string()
        .unwrap()
}

/// Tells the test of each registration of the name it watches.
struct Watcher(Mutex<mpsc::Sender<String>>);

impl IServiceCallback for Watcher {
    fn on_registration(&self, _: &str, service: &SpIBinder) -> Result<(), Status> {
        let _ = self.0.lock().send(tag(service));
        Ok(())
    }
    fn on_removal(&self, name: &str) -> Result<(), Status> {
        let _ = self.0.lock().send(format!("removed {name}"));
        Ok(())
    }
}

/// A process of its own on the bus: a runtime with a pool and a service manager client.
fn process(bus: &PrivateBus) -> (Arc<Runtime>, ServiceManager) {
    let rt = Arc::new(Runtime::new(RuntimeConfig::default()).unwrap());
    rt.start_thread_pool();
    let sm = ServiceManager::connect(&rt, bus.path()).unwrap();
    (rt, sm)
}

#[test]
fn a_second_registration_is_refused_unless_it_replaces_and_the_first_owner_is_told() {
    with_timeout(60, || {
        let bus = PrivateBus::start().unwrap();
        let (first_rt, first) = process(&bus);
        let one = first_rt.local(Tagged("first"));
        first.add_service(NAME, &one).unwrap();
        first.add_service(NAME, &one).unwrap(); // the same object again: nothing changes
        let (tx, rx) = mpsc::channel();
        let watcher = IServiceCallbackProxy::new_local(&first_rt, Watcher(Mutex::new(tx)));
        first.register_for_notifications(NAME, &watcher).unwrap();
        assert_eq!(rx.recv_timeout(Duration::from_secs(10)).unwrap(), "first");

        let (second_rt, second) = process(&bus);
        let two = second_rt.local(Tagged("second"));
        match second.add_service(NAME, &two) {
            Err(afbus_binder::Error::Service(s)) => {
                assert_eq!(s.exception_code(), ExceptionCode::ILLEGAL_STATE, "{s}");
                assert!(s.to_string().contains("replaceService"), "{s}");
            }
            other => panic!("a second registration was not refused: {other:?}"),
        }
        assert_eq!(tag(&second.check_service(NAME).unwrap().unwrap()), "first");

        second.replace_service(NAME, &two).unwrap();
        assert_eq!(
            rx.recv_timeout(Duration::from_secs(10)).unwrap(),
            "second",
            "the replaced owner, watching its name, is told"
        );
        assert_eq!(tag(&first.check_service(NAME).unwrap().unwrap()), "second");
    });
}
