//! Passing on a reference needs its owner to mint a new channel. An owner that never answers
//! (it has no thread reading its objects' channels, or it is hostile) fails the call that passes
//! the reference on after `MINT_TIMEOUT`, instead of holding the passing thread for ever.

#[path = "../../transport/tests/common/mod.rs"]
mod common;
mod service;

use std::time::Duration;

use afbus_binder::{Parcel, Runtime, RuntimeConfig, StatusCode};
use afbus_transport::BusSocket;
use common::{child_role, with_timeout};
use service::*;

/// An object of the hoarder's, which it never serves.
struct Echo;

impl afbus_binder::Binder for Echo {
    fn descriptor(&self) -> &str {
        "org.test.IHoarded"
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
fn child_entry() {
    let Some((role, bus)) = child_role() else {
        return;
    };
    match role.as_str() {
        "server" => serve(&bus),
        // Hands the service a reference to an object of its own, then never serves it: no
        // thread pool, and its only thread sleeps.
        "hoarder" => {
            let rt = Runtime::new(RuntimeConfig {
                max_threads: 0,
                ..RuntimeConfig::default()
            })
            .unwrap();
            let endpoint = BusSocket::connect(&bus).unwrap();
            let svc = rt.get_service(&endpoint, SVC).unwrap();
            let mine = rt.local(Echo);
            let mut p = Parcel::new();
            p.write_binder(&mine);
            svc.transact(STORE_BINDER, p).unwrap();
            std::thread::sleep(Duration::from_secs(3600));
        }
        other => panic!("unknown role {other}"),
    }
}

#[test]
fn a_reference_whose_owner_never_mints_fails_the_call_instead_of_hanging() {
    with_timeout(120, || {
        let w = World::new(RuntimeConfig::default());
        let svc = w.svc();
        let _hoarder = w.bus.spawn("hoarder");
        // The hoarder's reference is stored once LOAD_BINDER stops saying NAME_NOT_FOUND.
        let err = loop {
            match svc.transact(LOAD_BINDER, Parcel::new()) {
                Err(e) if e.code() == StatusCode::NAME_NOT_FOUND => std::thread::yield_now(),
                Err(e) => break e,
                Ok(_) => panic!("a reference its owner never minted was handed out"),
            }
        };
        assert_eq!(err.code(), StatusCode::TIMED_OUT, "{err}");
        // The service's thread came back: it still serves.
        svc.ping().unwrap();
    })
}
