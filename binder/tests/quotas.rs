//! What one peer process can make a service hold is bounded: references (an fd each) and
//! shared-memory rings. Past the bound that peer's call fails; other peers are still served.

#[path = "../../transport/tests/common/mod.rs"]
mod common;
mod service;

use afbus_binder::{
    max_refs_per_peer, Parcel, Runtime, RuntimeConfig, StatusCode, MAX_RINGS_PER_PEER,
};
use afbus_transport::BusSocket;
use common::{child_role, with_timeout, TestBus};
use service::*;

/// The fd limit the service runs under: a peer may hold an eighth of it.
const SERVICE_NOFILE: u64 = 1024;

#[test]
fn child_entry() {
    let Some((role, bus)) = child_role() else {
        return;
    };
    match role.as_str() {
        "small-server" => {
            let nofile = nix::sys::resource::Resource::RLIMIT_NOFILE;
            nix::sys::resource::setrlimit(nofile, SERVICE_NOFILE, SERVICE_NOFILE).unwrap();
            serve(&bus)
        }
        "one-call" => {
            let rt = Runtime::new(RuntimeConfig::default()).unwrap();
            let endpoint = BusSocket::connect(&bus).unwrap();
            let svc = rt.get_service(&endpoint, SVC).unwrap();
            svc.transact(MAKE_CHILD, Parcel::new()).unwrap();
        }
        other => panic!("unknown role {other}"),
    }
}

/// Rings the process `pid` has mapped.
fn rings_mapped(pid: i32) -> usize {
    std::fs::read_to_string(format!("/proc/{pid}/maps"))
        .unwrap()
        .lines()
        .filter(|l| l.contains("afbus-ring"))
        .count()
}

#[test]
fn one_peer_holds_at_most_its_share_of_references_and_rings() {
    with_timeout(120, || {
        let bus = TestBus::new();
        let server = bus.spawn("small-server");
        let endpoint = BusSocket::connect(bus.path()).unwrap();
        wait_for_name(&endpoint, SVC);
        let rt = Runtime::new(RuntimeConfig {
            shm: true,
            ..RuntimeConfig::default()
        })
        .unwrap();
        let svc = rt.get_service(&endpoint, SVC).unwrap();
        // The service's share for one peer, as it computes it under its limit.
        let share = (SERVICE_NOFILE / 8).max(128) as usize;
        assert!(
            max_refs_per_peer() >= share,
            "this process's own limit is higher"
        );
        let mut held = vec![svc.clone()];
        let refused = loop {
            match svc.transact(MAKE_CHILD, Parcel::new()) {
                Ok(mut r) => held.push(r.read_binder().unwrap()),
                Err(e) => break e,
            }
            assert!(
                held.len() <= share,
                "the service handed out more than its bound"
            );
        };
        assert_eq!(held.len(), share, "{refused}");
        assert_eq!(refused.code(), StatusCode::NO_MEMORY, "{refused}");
        // Calls on every reference work; only the first MAX_RINGS_PER_PEER channels get rings.
        for (i, child) in held.iter().enumerate() {
            for _ in 0..2 {
                let mut p = Parcel::new();
                p.write_str("x");
                let mut r = child.transact(ECHO, p).unwrap();
                assert_eq!(r.read_string().unwrap(), "x", "reference {i}");
            }
        }
        assert!(
            rings_mapped(server.pid()) <= MAX_RINGS_PER_PEER,
            "{} rings mapped",
            rings_mapped(server.pid())
        );
        // Another process is served meanwhile.
        bus.spawn("one-call").wait_success();
        // Dropping references gives the share back.
        held.truncate(1);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while svc.transact(MAKE_CHILD, Parcel::new()).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "the share never came back"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    });
}
