//! A local user of another uid (65534) against a root daemon with a policy and root services:
//! every way of learning or reaching a name obeys the policy, and the service manager cannot be
//! denied to others by waiting gets or by an owner that never answers.
//!
//! Root-only (the attacker drops to uid 65534), so ignored elsewhere; CI runs them as root.

#[path = "../../transport/tests/common/mod.rs"]
mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use afbus_binder::{
    Binder, CallContext, ExceptionCode, Parcel, Runtime, RuntimeConfig, SpIBinder, Status,
    TransactionCode,
};
use afbus_servicemanager::registry::MAX_WATCHES_PER_UID;
use afbus_servicemanager::{
    Daemon, DaemonOptions, IServiceCallback, ServiceManager, DAEMON_PEER_TIMEOUT,
    MAX_WAITING_GETS_PER_UID,
};
use afbus_transport::{BusSocket, Target, Watch};
use common::{child_role, spawn_role, with_timeout, BUS_VAR};

const POLICY: &str = r#"
[[allow]]
user = "nobody"
own = ["evil.*"]
find = ["*"]
call = ["public.*", "evil.*"]

[[deny]]
user = "nobody"
find = ["secure.*"]
"#;

struct Echo;

impl Binder for Echo {
    fn descriptor(&self) -> &str {
        "test.IEcho"
    }
    fn on_transact(
        &self,
        _: TransactionCode,
        data: &mut Parcel,
        reply: &mut Parcel,
        _: &CallContext,
    ) -> Result<(), Status> {
        reply.write_str(&data.read_string()?);
        Ok(())
    }
}

/// A notification callback that ignores what it hears.
struct Deaf;

impl IServiceCallback for Deaf {
    fn on_registration(&self, _: &str, _: &SpIBinder) -> Result<(), Status> {
        Ok(())
    }
    fn on_removal(&self, _: &str) -> Result<(), Status> {
        Ok(())
    }
}

fn echo(svc: &SpIBinder, text: &str) -> String {
    let mut p = Parcel::new();
    p.write_str(text);
    svc.transact(TransactionCode(1), p)
        .unwrap()
        .read_string()
        .unwrap()
}

fn security<T>(r: afbus_binder::Result<T>) -> bool {
    matches!(r, Err(afbus_binder::Error::Service(s)) if s.exception_code() == ExceptionCode::SECURITY)
}

#[test]
fn child_entry() {
    let Some((role, bus)) = child_role() else {
        return;
    };
    match role.as_str() {
        "intruder" => intrude(&bus),
        other => panic!("unknown role {other}"),
    }
}

/// The attacker: each probe must be refused, then it holds every waiting get its uid may, and
/// registers a service whose process never answers.
fn intrude(bus: &str) {
    nix::unistd::setgid(nix::unistd::Gid::from_raw(65534)).unwrap();
    nix::unistd::setuid(nix::unistd::Uid::from_raw(65534)).unwrap();
    let rt = Arc::new(Runtime::new(RuntimeConfig::default()).unwrap());
    rt.start_thread_pool();
    let sm = ServiceManager::connect(&rt, bus).unwrap();

    // Names it may not find: not listed, not in the debug info, not reachable.
    assert!(!sm
        .list_services()
        .unwrap()
        .iter()
        .any(|n| n.starts_with("secure.")));
    let info = sm.debug_info().unwrap();
    assert!(
        !info.iter().any(|s| s.name.starts_with("secure.")),
        "{info:?}"
    );
    assert!(info.iter().any(|s| s.name == "public.Echo"));
    assert!(security(sm.check_service("secure.Admin")));
    // A name it may find but not call: no reference is handed over, nor by a notice.
    assert!(security(sm.check_service("internal.Tool")));
    assert!(security(
        sm.wait_for_service("internal.Tool", Duration::from_millis(100))
    ));
    // On the bus itself: a bus name it may not find looks absent, everywhere.
    let endpoint = BusSocket::connect(bus).unwrap();
    let hidden: afbus_transport::WellKnownName = "secure.Bus".parse().unwrap();
    assert!(endpoint.name_owner(&hidden).unwrap().is_none());
    assert!(endpoint.connect_to(&Target::Name(hidden.clone())).is_err());
    assert!(endpoint.watch(&Watch::Name(hidden.clone())).is_err());
    let peers = endpoint.peers().unwrap();
    assert!(
        !peers.iter().any(|p| p.names.contains(&hidden)),
        "{peers:?}"
    );
    // What it may reach, it reaches.
    let public = sm.check_service("public.Echo").unwrap().unwrap();
    assert_eq!(echo(&public, "hi"), "hi");
    // It cannot make the daemon call root's echo service as if it were a callback.
    let deputy = afbus_servicemanager::IServiceCallbackProxy::from_binder(public.clone());
    let refused = sm.register_for_notifications("public.Echo", &deputy);
    assert!(refused.is_err(), "a foreign object taken as a callback");

    // Watching every name, it hears only of those it may find and call (checked below).
    let heard = Arc::new(Heard::default());
    let all = afbus_servicemanager::IServiceCallbackProxy::new_local(&rt, HeardRef(heard.clone()));
    sm.register_for_all_notifications(&all).unwrap();

    // It cannot grow the daemon without end by watching names that never come (watching every
    // name counts as one).
    let deaf = afbus_servicemanager::IServiceCallbackProxy::new_local(&rt, Deaf);
    for i in 0..MAX_WATCHES_PER_UID - 1 {
        sm.register_for_notifications(&format!("evil.never.{i}"), &deaf)
            .unwrap_or_else(|e| panic!("watch {i}: {e}"));
    }
    match sm.register_for_notifications("evil.never.more", &deaf) {
        Err(afbus_binder::Error::Service(s)) => {
            assert_eq!(s.exception_code(), ExceptionCode::ILLEGAL_STATE);
            assert!(s.message().contains("MAX_WATCHES_PER_UID"), "{s}");
        }
        other => panic!("watch past the bound: {other:?}"),
    }
    sm.unregister_for_notifications("evil.never.0", &deaf)
        .unwrap();
    sm.register_for_notifications("evil.never.more", &deaf)
        .expect("a withdrawn registration frees its place");

    // Waiting gets of an absent name: its uid's share waits, the rest are refused at once.
    let sm = Arc::new(sm);
    let waiters: Vec<_> = (0..2 * MAX_WAITING_GETS_PER_UID)
        .map(|_| {
            let sm = sm.clone();
            std::thread::spawn(move || {
                let started = Instant::now();
                let got = sm.wait_for_service("evil.absent", Duration::from_secs(4));
                (got.is_err(), started.elapsed())
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    // A service whose process never answers: no thread serves its objects.
    let mute_rt = Runtime::new(RuntimeConfig {
        max_threads: 0,
        ..RuntimeConfig::default()
    })
    .unwrap();
    let mute_sm = ServiceManager::connect(&mute_rt, bus).unwrap();
    mute_sm
        .add_service("evil.Mute", &mute_rt.local(Echo))
        .unwrap();
    // Tells the test it is in place.
    sm.add_service("evil.ready", &rt.local(Echo)).unwrap();
    let results: Vec<_> = waiters.into_iter().map(|t| t.join().unwrap()).collect();
    let refused_at_once = results
        .iter()
        .filter(|(err, took)| *err && *took < Duration::from_secs(1))
        .count();
    assert_eq!(refused_at_once, MAX_WAITING_GETS_PER_UID, "{results:?}");

    // Root registered secure.Late, internal.Late and public.Late, in that order, once it saw
    // evil.ready: told in order, the last one heard means the others were withheld.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut names = heard.names.lock();
    while !names.iter().any(|n| n == "public.Late") {
        assert!(
            !heard.changed.wait_until(&mut names, deadline).timed_out(),
            "{names:?}"
        );
    }
    assert!(names.iter().any(|n| n == "evil.ready"), "{names:?}");
    assert!(
        !names
            .iter()
            .any(|n| n.starts_with("secure.") || n.starts_with("internal.")),
        "told of names it may not find or call: {names:?}"
    );
}

/// Records the names it is told of.
#[derive(Default)]
struct Heard {
    names: parking_lot::Mutex<Vec<String>>,
    changed: parking_lot::Condvar,
}

/// The callback object: shares its record with the intruder.
struct HeardRef(Arc<Heard>);

impl IServiceCallback for HeardRef {
    fn on_registration(&self, name: &str, _: &SpIBinder) -> Result<(), Status> {
        self.0.names.lock().push(name.to_owned());
        self.0.changed.notify_all();
        Ok(())
    }
    fn on_removal(&self, _: &str) -> Result<(), Status> {
        Ok(())
    }
}

#[test]
#[ignore = "needs root: uid 65534 plays the attacker (CI runs it with --ignored, as root)"]
fn another_uid_learns_and_reaches_only_what_the_policy_allows_and_cannot_deny_the_manager() {
    assert!(nix::unistd::geteuid().is_root(), "this test needs root");
    with_timeout(120, || {
        let dir = tempfile::tempdir().unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let policy = dir.path().join("policy.toml");
        std::fs::write(&policy, POLICY).unwrap();
        let daemon = Daemon::start(&DaemonOptions {
            bus: dir.path().join("bus"),
            policy_file: Some(policy),
            services_dir: None,
        })
        .unwrap();
        let bus = daemon.path().to_owned();

        // Root's services: on the service manager, and one bus name.
        let rt = Arc::new(Runtime::new(RuntimeConfig::default()).unwrap());
        rt.start_thread_pool();
        let sm = ServiceManager::connect(&rt, &bus).unwrap();
        for name in ["secure.Admin", "internal.Tool", "public.Echo"] {
            sm.add_service(name, &rt.local(Echo)).unwrap();
        }
        let root_bus = Arc::new(BusSocket::connect(&bus).unwrap());
        rt.publish(&root_bus, "secure.Bus", &rt.local(Echo))
            .unwrap();

        let mut intruder = spawn_role("intruder", &[(BUS_VAR, bus.to_str().unwrap())]);
        sm.wait_for_service("evil.ready", Duration::from_secs(30))
            .unwrap();
        for name in ["secure.Late", "internal.Late", "public.Late"] {
            sm.add_service(name, &rt.local(Echo)).unwrap();
        }

        // The intruder holds its waiting gets: root is served, and may wait itself.
        let started = Instant::now();
        assert_eq!(
            echo(&sm.get_service("public.Echo").unwrap(), "root"),
            "root"
        );
        assert!(sm
            .list_services()
            .unwrap()
            .contains(&"secure.Admin".to_owned()));
        assert!(sm
            .wait_for_service("root.absent", Duration::from_millis(200))
            .is_err_and(|e| e.code() == afbus_binder::StatusCode::NAME_NOT_FOUND));
        assert!(started.elapsed() < Duration::from_secs(2));

        // An owner that never answers costs a get at most DAEMON_PEER_TIMEOUT, and nobody else
        // anything.
        let started = Instant::now();
        assert!(sm.get_service("evil.Mute").is_err());
        assert!(started.elapsed() < DAEMON_PEER_TIMEOUT + Duration::from_secs(2));
        assert_eq!(
            echo(&sm.get_service("public.Echo").unwrap(), "still"),
            "still"
        );

        let status = intruder.0.wait().unwrap();
        assert!(status.success(), "the intruder's checks failed: {status}");
        daemon.stop();
    });
}
