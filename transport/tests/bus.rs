//! Joining, names, notices and brokering, with peers in separate processes.

mod common;

use std::os::fd::AsFd;
use std::time::Duration;

use afbus_transport::{
    BusMaster, BusSocket, Credentials, Error, Event, FrameKind, Header, MasterStatus, NameOutcome,
    NameOwnerChanged, PeerInfo, Policy, QueueMode, ReleaseOutcome, Target, UniqueId, Verdict,
    Watch, WellKnownName,
};
use common::{child_role, with_timeout, TestBus};

const WAIT: Option<Duration> = Some(Duration::from_secs(10));

fn name(s: &str) -> WellKnownName {
    s.parse().unwrap()
}

/// Entry point of the child processes the tests start.
#[test]
fn child_entry() {
    let Some((role, bus)) = child_role() else {
        return;
    };
    let me = BusSocket::connect(&bus).expect("child joins");
    match role.as_str() {
        // Owns a name named after its pid, then idles.
        "join" => {
            let n = name(&format!("org.test.Child{}", std::process::id()));
            me.request_name(&n, QueueMode::Queue).unwrap();
        }
        // Joins claiming to be someone else, then owns a name.
        "forge" => {
            drop(me);
            let fake = Credentials {
                pid: 1,
                uid: 4242,
                gid: 4343,
            };
            let me = BusSocket::connect_claiming(&bus, fake).expect("forged hello");
            me.request_name(&name("org.test.Forger"), QueueMode::Queue)
                .unwrap();
            std::mem::forget(me);
        }
        // Owns two names, then idles until killed.
        "owner" => {
            me.request_name(&name("org.test.Owned"), QueueMode::Queue)
                .unwrap();
            me.request_name(&name("org.test.Second"), QueueMode::Queue)
                .unwrap();
        }
        // Serves org.test.Echo: replies with the payload reversed, the caller's pid as the
        // master told it, and writes "hi" into an fd if one came.
        "echo" => {
            me.request_name(&name("org.test.Echo"), QueueMode::Queue)
                .unwrap();
            loop {
                let Event::Incoming {
                    channel: ch,
                    peer: who,
                    name,
                } = me.recv_event(None).unwrap()
                else {
                    continue;
                };
                let req = ch.recv().unwrap();
                for fd in &req.fds {
                    nix::unistd::write(fd, b"hi").unwrap();
                }
                let mut body: Vec<u8> = req.payload.iter().rev().copied().collect();
                body.extend_from_slice(&who.creds.pid.to_le_bytes());
                body.push(u8::from(
                    name.is_some_and(|n| n.as_str() == "org.test.Echo"),
                ));
                let reply = Header::new(FrameKind::Reply).with_txn(req.header.txn);
                ch.send(&reply, &body, &[]).unwrap();
            }
        }
        other => panic!("unknown role {other}"),
    }
    std::thread::sleep(Duration::from_secs(3600));
}

/// Waits for the next name owner change.
/// The next name owner change (peers joining, told to those watching everything, pass by).
fn next_change(watcher: &BusSocket) -> NameOwnerChanged {
    loop {
        match watcher.recv_event(WAIT).unwrap() {
            Event::NameOwnerChanged(c) => return c,
            Event::PeerJoined(_) => {}
            other => panic!("expected a name owner change, got {other:?}"),
        }
    }
}

#[test]
fn joins_in_separate_processes_get_distinct_addresses_and_kernel_identity() {
    with_timeout(30, || {
        let bus = TestBus::new();
        let watcher = BusSocket::connect(bus.path()).unwrap();
        watcher.watch(&Watch::All).unwrap();
        let children: Vec<_> = (0..3).map(|_| bus.spawn("join")).collect();
        let mut ids = vec![watcher.id()];
        let mut joined = Vec::new();
        for _ in &children {
            // Each child is announced as it joins, with the kernel's word for who it is.
            let change = loop {
                match watcher.recv_event(WAIT).unwrap() {
                    Event::PeerJoined(info) => joined.push(info),
                    Event::NameOwnerChanged(c) => break c,
                    other => panic!("{other:?}"),
                }
            };
            let info = joined.iter().find(|i| Some(i.id) == change.new);
            let info = info.expect("a peer is announced before it owns a name");
            let owner = watcher.name_owner(&change.name).unwrap().unwrap();
            let pid: i32 = change
                .name
                .as_str()
                .trim_start_matches("org.test.Child")
                .parse()
                .unwrap();
            assert_eq!(
                owner.creds.pid, pid,
                "the master's pid for the owner is the child's"
            );
            assert!(children.iter().any(|c| c.pid() == pid));
            assert_eq!(info.creds.pid, pid, "the join notice names the child");
            ids.push(change.new.unwrap());
        }
        let mut unique = ids.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(
            unique.len(),
            ids.len(),
            "unique addresses are distinct: {ids:?}"
        );
    })
}

#[test]
fn a_forged_hello_is_identified_by_the_kernel() {
    with_timeout(30, || {
        let bus = TestBus::new();
        let watcher = BusSocket::connect(bus.path()).unwrap();
        watcher
            .watch(&Watch::Name(name("org.test.Forger")))
            .unwrap();
        let child = bus.spawn("forge");
        next_change(&watcher);
        let owner = watcher
            .name_owner(&name("org.test.Forger"))
            .unwrap()
            .unwrap();
        let real = Credentials {
            pid: child.pid(),
            uid: nix::unistd::getuid().as_raw(),
            gid: nix::unistd::getgid().as_raw(),
        };
        assert_eq!(owner.creds, real);
    })
}

#[test]
fn unique_addresses_are_never_reused() {
    let bus = TestBus::new();
    let first = BusSocket::connect(bus.path()).unwrap().id();
    let second = BusSocket::connect(bus.path()).unwrap().id();
    let third = BusSocket::connect(bus.path()).unwrap().id();
    assert!(first < second && second < third);
}

#[test]
fn name_conflicts_and_release() {
    let bus = TestBus::new();
    let a = BusSocket::connect(bus.path()).unwrap();
    let b = BusSocket::connect(bus.path()).unwrap();
    let n = name("org.test.Name");
    assert_eq!(
        a.request_name(&n, QueueMode::Queue).unwrap(),
        NameOutcome::PrimaryOwner
    );
    assert_eq!(
        a.request_name(&n, QueueMode::Queue).unwrap(),
        NameOutcome::AlreadyOwner
    );
    assert_eq!(
        b.request_name(&n, QueueMode::DoNotQueue).unwrap(),
        NameOutcome::Exists
    );
    assert_eq!(
        b.request_name(&n, QueueMode::Queue).unwrap(),
        NameOutcome::Queued
    );
    assert_eq!(
        b.release_name(&name("org.test.Nobody")).unwrap(),
        ReleaseOutcome::NonExistent
    );
    let c = BusSocket::connect(bus.path()).unwrap();
    assert_eq!(c.release_name(&n).unwrap(), ReleaseOutcome::NotOwner);
    assert_eq!(a.release_name(&n).unwrap(), ReleaseOutcome::Released);
    assert_eq!(
        a.name_owner(&n).unwrap().map(|p| p.id),
        Some(b.id()),
        "the queue moved up"
    );
    assert_eq!(b.release_name(&n).unwrap(), ReleaseOutcome::Released);
    assert_eq!(a.name_owner(&n).unwrap(), None);
}

#[test]
fn killing_an_owner_frees_its_names_and_watchers_see_it_in_order() {
    with_timeout(30, || {
        let bus = TestBus::new();
        let watcher = BusSocket::connect(bus.path()).unwrap();
        watcher.watch(&Watch::All).unwrap();
        let heir = BusSocket::connect(bus.path()).unwrap();
        let mut child = bus.spawn("owner");
        let owned = next_change(&watcher);
        assert_eq!(owned.name, name("org.test.Owned"));
        let child_id = owned.new.unwrap();
        assert_eq!(next_change(&watcher).name, name("org.test.Second"));
        assert_eq!(
            heir.request_name(&owned.name, QueueMode::Queue).unwrap(),
            NameOutcome::Queued
        );

        child.kill();
        let first = next_change(&watcher);
        assert_eq!(
            first,
            NameOwnerChanged {
                name: name("org.test.Owned"),
                old: Some(child_id),
                new: Some(heir.id())
            }
        );
        let second = next_change(&watcher);
        assert_eq!(
            second,
            NameOwnerChanged {
                name: name("org.test.Second"),
                old: Some(child_id),
                new: None
            }
        );
        match watcher.recv_event(WAIT).unwrap() {
            Event::PeerGone(id) => assert_eq!(id, child_id),
            other => panic!("expected peer gone, got {other:?}"),
        }
        assert!(watcher.try_recv_event().unwrap().is_none());
    })
}

#[test]
fn watching_one_peer_tells_only_of_that_peer() {
    let bus = TestBus::new();
    let watcher = BusSocket::connect(bus.path()).unwrap();
    let a = BusSocket::connect(bus.path()).unwrap();
    let b = BusSocket::connect(bus.path()).unwrap();
    watcher.watch(&Watch::Peer(b.id())).unwrap();
    let b_id = b.id();
    drop(a);
    drop(b);
    match watcher.recv_event(WAIT).unwrap() {
        Event::PeerGone(id) => assert_eq!(id, b_id),
        other => panic!("expected peer gone, got {other:?}"),
    }
    let gone = watcher.watch(&Watch::Peer(b_id)).unwrap_err();
    assert!(matches!(
        gone,
        Error::Refused {
            status: MasterStatus::NO_SUCH_PEER,
            ..
        }
    ));
}

#[test]
fn brokering_between_two_processes() {
    with_timeout(30, || {
        let bus = TestBus::new();
        let client = BusSocket::connect(bus.path()).unwrap();
        client.watch(&Watch::Name(name("org.test.Echo"))).unwrap();
        let server = bus.spawn("echo");
        let change = next_change(&client);

        let (ch, peer) = client
            .connect_to(&Target::Name(name("org.test.Echo")))
            .unwrap();
        assert_eq!(peer.id, change.new.unwrap());
        assert_eq!(peer.creds.pid, server.pid());

        let (r, w) = nix::unistd::pipe().unwrap();
        ch.send(
            &Header::new(FrameKind::Request).with_txn(9),
            b"abc",
            &[w.as_fd()],
        )
        .unwrap();
        drop(w);
        let reply = ch.recv_timeout(Duration::from_secs(10)).unwrap();
        assert_eq!(reply.header.kind, FrameKind::Reply);
        assert_eq!(reply.header.txn, 9);
        assert_eq!(&reply.payload[..3], b"cba");
        let seen_pid = i32::from_le_bytes(reply.payload[3..7].try_into().unwrap());
        assert_eq!(
            seen_pid,
            std::process::id() as i32,
            "the target is told who called"
        );
        let mut buf = [0u8; 2];
        nix::unistd::read(&r, &mut buf).unwrap();
        assert_eq!(&buf, b"hi", "the fd travelled and was used");

        // The same through the unique address.
        let (ch2, _) = client.connect_to(&Target::Unique(peer.id)).unwrap();
        ch2.send(&Header::new(FrameKind::Request), b"xy", &[])
            .unwrap();
        let reply = ch2.recv_timeout(Duration::from_secs(10)).unwrap();
        assert_eq!((&reply.payload[..2], reply.payload[6]), (&b"yx"[..], 0));
    })
}

struct DenyConnect;

impl Policy for DenyConnect {
    fn connect(&self, _: &PeerInfo, _: &PeerInfo, name: Option<&WellKnownName>) -> Verdict {
        match name {
            Some(n) if n.as_str() == "org.test.Echo" => Verdict::Deny,
            _ => Verdict::Allow,
        }
    }
}

#[test]
fn brokering_refused_by_policy_is_a_typed_error() {
    with_timeout(30, || {
        let bus = TestBus::with_policy(DenyConnect);
        let client = BusSocket::connect(bus.path()).unwrap();
        client.watch(&Watch::Name(name("org.test.Echo"))).unwrap();
        let _server = bus.spawn("echo");
        next_change(&client);
        let err = client
            .connect_to(&Target::Name(name("org.test.Echo")))
            .unwrap_err();
        assert!(
            matches!(
                err,
                Error::Refused {
                    status: MasterStatus::DENIED,
                    op: "connect",
                    ..
                }
            ),
            "{err}"
        );
        let missing = client
            .connect_to(&Target::Name(name("org.test.Missing")))
            .unwrap_err();
        assert!(matches!(
            missing,
            Error::Refused {
                status: MasterStatus::NO_SUCH_PEER,
                ..
            }
        ));
        let bogus = client
            .connect_to(&Target::Unique(UniqueId(999)))
            .unwrap_err();
        assert!(matches!(
            bogus,
            Error::Refused {
                status: MasterStatus::NO_SUCH_PEER,
                ..
            }
        ));
    })
}

struct NobodyOwns;

impl Policy for NobodyOwns {
    fn own(&self, _: &PeerInfo, _: &WellKnownName) -> Verdict {
        Verdict::Deny
    }
}

#[test]
fn owning_refused_by_policy() {
    let bus = TestBus::with_policy(NobodyOwns);
    let a = BusSocket::connect(bus.path()).unwrap();
    let err = a
        .request_name(&name("org.test.Name"), QueueMode::Queue)
        .unwrap_err();
    assert!(matches!(
        err,
        Error::Refused {
            status: MasterStatus::DENIED,
            ..
        }
    ));
}

#[test]
fn a_live_bus_is_not_taken_over_and_a_stale_socket_is_replaced() {
    let bus = TestBus::new();
    let err = BusMaster::bind(bus.path(), afbus_transport::AllowAll)
        .err()
        .unwrap();
    assert!(matches!(err, Error::BusInUse(_)), "{err}");
    BusSocket::connect(bus.path()).expect("the first master still serves");

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bus");
    // A socket file nobody listens on, as a crashed master leaves it (made while no child is
    // being forked, which would briefly hold the socket open).
    common::without_spawns(|| drop(std::os::unix::net::UnixListener::bind(&path).unwrap()));
    assert!(path.exists());
    let master = BusMaster::bind(&path, afbus_transport::AllowAll)
        .unwrap()
        .spawn()
        .unwrap();
    BusSocket::connect(&path).unwrap();
    drop(master);
    assert!(!path.exists(), "a stopped master removes its socket");
}

#[test]
fn the_bus_going_away_is_a_typed_error() {
    let bus = TestBus::new();
    let a = BusSocket::connect(bus.path()).unwrap();
    drop(bus);
    let err = a
        .request_name(&name("org.test.Late"), QueueMode::Queue)
        .unwrap_err();
    assert!(matches!(err, Error::BusGone), "{err}");
    assert!(matches!(a.recv_event(WAIT), Err(Error::BusGone)));
}

#[test]
fn peers_lists_every_endpoint_with_its_identity_and_names() {
    let bus = TestBus::new();
    let a = BusSocket::connect(bus.path()).unwrap();
    let b = BusSocket::connect(bus.path()).unwrap();
    a.request_name(&name("org.test.Listed"), QueueMode::Queue)
        .unwrap();
    b.request_name(&name("org.test.Listed"), QueueMode::Queue)
        .unwrap();
    let peers = b.peers().unwrap();
    assert_eq!(peers.len(), 2);
    assert_eq!(peers[0].info.id, a.id());
    assert_eq!(peers[0].info.creds.pid, std::process::id() as i32);
    assert_eq!(peers[0].names, vec![name("org.test.Listed")]);
    assert!(peers[1].names.is_empty(), "queued is not owning");
}

struct TwoPerUid;

impl Policy for TwoPerUid {
    fn connection_quota(&self, _: &Credentials) -> usize {
        2
    }
}

#[test]
fn the_connection_quota_holds_at_the_edge() {
    let bus = TestBus::with_policy(TwoPerUid);
    let a = BusSocket::connect(bus.path()).unwrap();
    let _b = BusSocket::connect(bus.path()).unwrap();
    let err = BusSocket::connect(bus.path()).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Refused {
                status: MasterStatus::LIMIT,
                op: "hello",
                ..
            }
        ),
        "{err}"
    );
    drop(a);
    // The master sees the hang-up before it serves the next hello on a new connection only if
    // it read it first: retry until it has.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        match BusSocket::connect(bus.path()) {
            Ok(_) => break,
            Err(Error::Refused {
                status: MasterStatus::LIMIT,
                ..
            }) if std::time::Instant::now() < deadline => std::thread::yield_now(),
            Err(e) => panic!("{e}"),
        }
    }
}

#[test]
fn an_endpoint_keeps_at_most_max_pending_events() {
    use afbus_transport::MAX_PENDING_EVENTS;
    let bus = TestBus::new();
    let target = BusSocket::connect(bus.path()).unwrap();
    let caller = BusSocket::connect(bus.path()).unwrap();
    let extra = 10;
    for i in 0..MAX_PENDING_EVENTS + extra {
        let (ch, _) = caller.connect_to(&Target::Unique(target.id())).unwrap();
        // The first channel's hang-up shows whether its event was kept (it must not be).
        ch.send(
            &Header::new(FrameKind::OneWay).with_code(i as u32),
            b"",
            &[],
        )
        .unwrap();
        drop(ch);
        // A request makes the target read its socket, filing the event without handing it out.
        target.name_owner(&name("org.test.Nobody")).unwrap();
    }
    let mut kept = Vec::new();
    while let Some(event) = target.try_recv_event().unwrap() {
        let Event::Incoming { channel, .. } = event else {
            panic!("unexpected {event:?}")
        };
        kept.push(channel.recv().unwrap().header.code);
    }
    assert_eq!(kept.len(), MAX_PENDING_EVENTS);
    assert_eq!(kept[0], extra as u32, "the oldest were dropped");
}
