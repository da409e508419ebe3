//! Two buses on one machine, each with its own bridge (a child process running the
//! `afbus-bridge` binary), joined over Zenoh with mutual TLS on loopback: a client on bus B
//! calls a service on bus A by name through its generated proxy.

//!
//! Built only with the `zenoh` feature (`cargo test -p afbus-bridge --features zenoh`);
//! without it, one ignored test says so.

#[cfg(not(feature = "zenoh"))]
#[test]
#[ignore = "the bridge needs the zenoh feature: cargo test -p afbus-bridge --features zenoh"]
fn bridged_calls() {
    panic!("built without the zenoh feature: cargo test -p afbus-bridge --features zenoh");
}

#[cfg(feature = "zenoh")]
#[path = "../../../transport/tests/common/mod.rs"]
mod common;

/// A child process of a test: the role it plays (see `common::spawn_role`).
#[cfg(feature = "zenoh")]
#[test]
fn child_entry() {
    bridged::child_entry();
}

#[cfg(feature = "zenoh")]
mod bridged {

    use std::net::UdpSocket;
    use std::os::fd::OwnedFd;
    use std::path::{Path, PathBuf};
    use std::process::{Command, Stdio};
    use std::sync::atomic::{AtomicI32, Ordering};
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use super::common::{child_role, spawn_role, with_timeout, ChildGuard, BUS_VAR};
    use afbus_binder::{
        calling_context, DeathRecipient, Runtime, RuntimeConfig, SpIBinder, Status, StatusCode,
        TransactionCode,
    };
    use afbus_bridge::envelope::{Body, Failure};
    use afbus_bridge::keys::{self, Target};
    use afbus_idl_e2e::org::afbus::test::{
        ICallback::{self, ICallbackProxy},
        IConformance::{self, IConformance as _, IConformanceProxy},
    };
    use afbus_servicemanager::{PrivateBus, ServiceManager};
    use afbus_transport::{BusSocket, Event, Fields};
    use parking_lot::{Condvar, Mutex};

    const NAME: &str = "org.afbus.test.Conformance";

    pub(super) fn child_entry() {
        let Some((role, bus)) = child_role() else {
            return;
        };
        match role.as_str() {
            "service" => serve(&bus),
            other => panic!("unknown role {other}"),
        }
    }

    /// The service on bus A.
    struct Service {
        rt: Arc<Runtime>,
        recorded: Mutex<Vec<i32>>,
        changed: Condvar,
        callbacks: Arc<AtomicI32>,
    }

    impl IConformance::IConformance for Service {
        fn echo(&self, text: &str) -> Result<String, Status> {
            if text == "who is calling?" {
                let ctx = calling_context().ok_or(StatusCode::INVALID_OPERATION)?;
                return Ok(ctx.acting_for().unwrap_or("nobody said").to_owned());
            }
            Ok(text.to_owned())
        }
        fn record(&self, value: i32) -> Result<(), Status> {
            self.recorded.lock().push(value);
            self.changed.notify_all();
            Ok(())
        }
        fn recorded(&self, count: i32) -> Result<Vec<i32>, Status> {
            let mut recorded = self.recorded.lock();
            let deadline = Instant::now() + Duration::from_secs(10);
            while recorded.len() < count as usize {
                if self.changed.wait_until(&mut recorded, deadline).timed_out() {
                    return Err(StatusCode::TIMED_OUT.into());
                }
            }
            Ok(recorded.clone())
        }
        fn call_back(&self, cb: &ICallbackProxy, text: &str) -> Result<String, Status> {
            ICallback::ICallback::on_echo(cb, text)
        }
        fn who_am_i(&self) -> Result<Vec<i32>, Status> {
            let ctx = calling_context().ok_or(StatusCode::INVALID_OPERATION)?;
            Ok(vec![ctx.caller().pid, ctx.caller().uid as i32])
        }
        fn read_fd(&self, _: &OwnedFd) -> Result<String, Status> {
            Ok("an fd arrived".into())
        }
        fn sleep(&self, millis: i32) -> Result<(), Status> {
            std::thread::sleep(Duration::from_millis(millis as u64));
            Ok(())
        }
        fn sleeps_done(&self) -> Result<i32, Status> {
            Ok(0)
        }
        fn exit(&self) -> Result<(), Status> {
            std::process::exit(0)
        }
        fn slow_callback(&self, millis: i32) -> Result<ICallbackProxy, Status> {
            std::thread::sleep(Duration::from_millis(millis as u64));
            Ok(ICallbackProxy::new_local(
                &self.rt,
                Counted::new(&self.callbacks),
            ))
        }
        fn live_callbacks(&self) -> Result<i32, Status> {
            Ok(self.callbacks.load(Ordering::SeqCst))
        }
        fn handler_nice(&self) -> Result<i32, Status> {
            Ok(0)
        }
    }

    /// A callback that counts the live ones.
    struct Counted(Arc<AtomicI32>);

    impl Counted {
        fn new(live: &Arc<AtomicI32>) -> Counted {
            live.fetch_add(1, Ordering::SeqCst);
            Counted(live.clone())
        }
    }

    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.fetch_sub(1, Ordering::SeqCst);
        }
    }

    impl ICallback::ICallback for Counted {
        fn on_echo(&self, text: &str) -> Result<String, Status> {
            Ok(format!("service:{text}"))
        }
        fn on_value(&self, _: i32) -> Result<(), Status> {
            Ok(())
        }
    }

    /// A callback of the client's, on bus B.
    struct Prefixer;

    impl ICallback::ICallback for Prefixer {
        fn on_echo(&self, text: &str) -> Result<String, Status> {
            let ctx = calling_context().ok_or(StatusCode::INVALID_OPERATION)?;
            Ok(format!("client:{text} from pid {}", ctx.caller().pid))
        }
        fn on_value(&self, _: i32) -> Result<(), Status> {
            Ok(())
        }
    }

    fn serve(bus: &str) -> ! {
        let rt = Arc::new(Runtime::new(RuntimeConfig::default()).expect("runtime"));
        rt.start_thread_pool();
        let service = IConformanceProxy::new_local(
            &rt,
            Service {
                rt: rt.clone(),
                recorded: Mutex::default(),
                changed: Condvar::new(),
                callbacks: Arc::default(),
            },
        );
        let sm = ServiceManager::connect(&rt, bus).expect("service manager");
        sm.add_service(NAME, service.as_binder()).expect("add");
        loop {
            std::thread::sleep(Duration::from_secs(3600));
        }
    }

    fn certs() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/certs")
    }

    fn free_port() -> u16 {
        // QUIC listens on UDP.
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
        socket.local_addr().expect("addr").port()
    }

    /// The TOML of a bridge named `name` on `bus`, with mutual TLS.
    fn bridge_toml(name: &str, bus: &Path, peers: &[&str], zenoh: &str, rest: &str) -> String {
        let certs = certs();
        // Tests run side by side on two CPUs: calls get more time than the default, unless a
        // test says otherwise.
        let timeout = if rest.contains("call_timeout_ms") {
            ""
        } else {
            "call_timeout_ms = 30000\n"
        };
        format!(
            "{timeout}name = \"{name}\"\nbus = \"{bus}\"\npeers = {peers:?}\n{rest}\n[zenoh]\n{zenoh}\n\
             lease_ms = 1000\n[zenoh.tls]\nca = \"{ca}\"\ncert = \"{cert}\"\nkey = \"{key}\"\n",
            bus = bus.display(),
            ca = certs.join("ca.pem").display(),
            cert = certs.join(format!("{name}.pem")).display(),
            key = certs.join(format!("{name}.key")).display(),
        )
    }

    fn start_bridge(dir: &Path, name: &str, toml: &str) -> ChildGuard {
        let path = dir.join(format!("{name}.toml"));
        std::fs::write(&path, toml).expect("write config");
        let child = Command::new(env!("CARGO_BIN_EXE_afbus-bridge"))
            .arg("--config")
            .arg(&path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .expect("spawn afbus-bridge");
        ChildGuard(child)
    }

    /// Bus A with the service and its bridge (`hosta`, exporting [`NAME`]); bus B with its bridge
    /// (`hostb`, importing it, with `b_rest` added to its configuration) and a client runtime.
    struct World {
        dir: tempfile::TempDir,
        port: u16,
        bus_a: PrivateBus,
        bus_b: PrivateBus,
        service: ChildGuard,
        bridge_a: ChildGuard,
        _bridge_b: ChildGuard,
        rt: Arc<Runtime>,
        sm_b: ServiceManager,
    }

    const POLICY: &str = r#"
    [[allow]]
    remote = "hostb"
    find = ["org.afbus.test.*"]
    call = ["org.afbus.test.*"]
    receive = ["BatteryLow"]
    [[allow]]
    remote = "hostc"
    find = ["org.afbus.test.*"]
    "#;

    impl World {
        fn new(b_rest: &str) -> World {
            World::with("", b_rest)
        }

        /// The same, with `a_rest` and `b_rest` added to the bridges' configurations.
        fn with(a_rest: &str, b_rest: &str) -> World {
            let dir = tempfile::tempdir().expect("temp dir");
            let bus_a = PrivateBus::start().expect("bus a");
            let bus_b = PrivateBus::start().expect("bus b");
            let service = spawn_role("service", &[(BUS_VAR, bus_a.path().to_str().unwrap())]);
            let policy = dir.path().join("policy.toml");
            std::fs::write(&policy, POLICY).expect("policy");
            // Bus B lets hosta's signals on; bus A's policy decides which hostb receives.
            let policy_b = dir.path().join("policy-b.toml");
            std::fs::write(
                &policy_b,
                "[[allow]]\nremote = \"hosta\"\nsend = [\"BatteryLow\", \"Secret\"]\n",
            )
            .expect("policy b");
            let port = free_port();
            let a = bridge_toml(
                "hosta",
                bus_a.path(),
                &["hostb", "hostc"],
                &format!("listen = [\"quic/127.0.0.1:{port}\"]"),
                &format!(
                    "{a_rest}\npolicy = \"{}\"\n[[export]]\nname = \"{NAME}\"\n\
                     [[export_signal]]\nmember = \"BatteryLow\"\n\
                     [[export_signal]]\nmember = \"Secret\"",
                    policy.display()
                ),
            );
            let bridge_a = start_bridge(dir.path(), "hosta", &a);
            let b = bridge_toml(
                "hostb",
                bus_b.path(),
                &["hosta"],
                &format!("connect = [\"quic/127.0.0.1:{port}\"]"),
                &format!(
                    "{b_rest}\npolicy = \"{}\"\n[[import]]\nfrom = \"hosta\"\n\
                     name = \"{NAME}\"\n[[import_signal]]\nfrom = \"hosta\"\n\
                     member = \"BatteryLow\"\n[[import_signal]]\nfrom = \"hosta\"\n\
                     member = \"Secret\"",
                    policy_b.display()
                ),
            );
            let bridge_b = start_bridge(dir.path(), "hostb", &b);
            let rt = Arc::new(Runtime::new(RuntimeConfig::default()).expect("runtime"));
            rt.start_thread_pool();
            let sm_b = ServiceManager::connect(&rt, bus_b.path()).expect("sm b");
            World {
                dir,
                port,
                bus_a,
                bus_b,
                service,
                bridge_a,
                _bridge_b: bridge_b,
                rt,
                sm_b,
            }
        }

        /// The service as the client on bus B finds it: by name, through the generated proxy.
        fn remote(&self) -> IConformanceProxy {
            self.sm_b
                .wait_for_interface(NAME, Duration::from_secs(30))
                .expect("the imported name shows on bus B")
        }
    }

    /// A channel that gets a message when `proxy`'s object dies.
    fn death_watch(proxy: &SpIBinder) -> std::sync::mpsc::Receiver<()> {
        let (tx, rx) = std::sync::mpsc::channel();
        let tx = parking_lot::Mutex::new(tx);
        let recipient: Arc<dyn DeathRecipient> = Arc::new(move || {
            let _ = tx.lock().send(());
        });
        proxy.link_to_death(recipient).unwrap();
        rx
    }

    fn code(e: Status) -> StatusCode {
        e.transaction_error()
    }

    #[test]
    fn a_remote_service_is_called_by_name_through_its_generated_proxy() {
        with_timeout(90, || {
            let world = World::new("");
            let svc = world.remote();
            assert_eq!(svc.echo("hello").unwrap(), "hello");
            let big = "x".repeat(4096);
            assert_eq!(svc.echo(&big).unwrap(), big);
            // The service sees the bridge on its own bus as its caller (the kernel's word), never
            // a uid made up from the other side.
            let who = svc.who_am_i().unwrap();
            assert_eq!(who[0], world.bridge_a.pid(), "the caller is bridge A");
            assert_ne!(who[0], std::process::id() as i32);
            // ...acting for the peer its link authenticated.
            assert_eq!(svc.echo("who is calling?").unwrap(), "hostb");
            // One-way calls keep their order.
            for i in 0..100 {
                svc.record(i).unwrap();
            }
            assert_eq!(svc.recorded(100).unwrap(), (0..100).collect::<Vec<_>>());
            let _ = (&world.dir, world.port, &world.bus_a, &world.bus_b);
        });
    }

    #[test]
    fn objects_cross_both_ways_and_are_let_go() {
        with_timeout(90, || {
            let world = World::new("");
            let svc = world.remote();
            // A callback of ours, called back from bus A through both bridges.
            let cb = ICallbackProxy::new_local(&world.rt, Prefixer);
            let reply = svc.call_back(&cb, "ping").unwrap();
            assert!(reply.starts_with("client:ping from pid "), "{reply}");
            // The same object passed twice is one object on the other side, and comes back as
            // itself: bridge B's stand-in for the service's callback is one SpIBinder.
            let theirs = svc.slow_callback(0).unwrap();
            assert_eq!(
                ICallback::ICallback::on_echo(&theirs, "x").unwrap(),
                "service:x"
            );
            assert_eq!(svc.live_callbacks().unwrap(), 1);
            // Passing the service's own object back to it reaches the object itself.
            assert_eq!(svc.call_back(&theirs, "home").unwrap(), "service:home");
            drop(theirs);
            // Bridge B lets go of its token; bridge A of the object, within GIVEN_GRACE.
            let deadline = Instant::now() + Duration::from_secs(20);
            while svc.live_callbacks().unwrap() != 0 {
                assert!(Instant::now() < deadline, "the callback was never let go");
                std::thread::sleep(Duration::from_millis(100));
            }
        });
    }

    #[test]
    fn an_fd_is_refused_with_a_typed_error_and_a_blob_crosses() {
        with_timeout(90, || {
            let world = World::new("");
            let svc = world.remote();
            let (r, _w) = nix::unistd::pipe().unwrap();
            let e = svc.read_fd(&r).unwrap_err();
            assert_eq!(code(e.clone()), StatusCode::FDS_NOT_ALLOWED, "{e}");
            assert!(e.message().contains("cannot cross"), "{e}");
            // A sealed blob is copied across: the service gets an fd, reads its contents.
            let blob = afbus_binder::Blob::seal(b"contents").unwrap();
            assert_eq!(svc.read_fd(&blob).unwrap(), "an fd arrived");
            // The proxy works after the refusal.
            assert_eq!(svc.echo("still").unwrap(), "still");
        });
    }

    #[test]
    fn a_call_past_the_timeout_is_timed_out() {
        with_timeout(90, || {
            let world = World::new("call_timeout_ms = 500");
            let svc = world.remote();
            let started = Instant::now();
            let e = svc.sleep(3000).unwrap_err();
            assert_eq!(code(e.clone()), StatusCode::TIMED_OUT, "{e}");
            assert!(started.elapsed() < Duration::from_millis(2500));
            assert_eq!(svc.echo("after").unwrap(), "after");
        });
    }

    #[test]
    fn a_killed_service_or_bridge_fails_calls_without_a_hang() {
        with_timeout(90, || {
            let mut world = World::new("");
            let svc = world.remote();
            assert_eq!(svc.echo("up").unwrap(), "up");
            let died = death_watch(svc.as_binder());
            world.service.kill();
            // The client hears of the death, from bridge B, without calling.
            died.recv_timeout(Duration::from_secs(20))
                .expect("a death notice for the killed service");
            let e = svc.echo("down").unwrap_err();
            assert_eq!(code(e.clone()), StatusCode::DEAD_OBJECT, "{e}");
            // The name goes from bus B once bridge A sees the service gone.
            let deadline = Instant::now() + Duration::from_secs(20);
            while world.sm_b.check_service(NAME).unwrap().is_some() {
                assert!(Instant::now() < deadline, "the dead import stayed on bus B");
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        with_timeout(90, || {
            let mut world = World::new("");
            let svc = world.remote();
            assert_eq!(svc.echo("up").unwrap(), "up");
            // A callback of the service's, held here through both bridges.
            let theirs = svc.slow_callback(0).unwrap();
            let died = death_watch(svc.as_binder());
            let callback_died = death_watch(theirs.as_binder());
            world.bridge_a.kill();
            died.recv_timeout(Duration::from_secs(20))
                .expect("a death notice when bridge A is killed");
            callback_died
                .recv_timeout(Duration::from_secs(20))
                .expect("a death notice for the callback too");
            let started = Instant::now();
            let e = svc.echo("down").unwrap_err();
            assert_eq!(code(e.clone()), StatusCode::DEAD_OBJECT, "{e}");
            assert!(started.elapsed() < Duration::from_secs(10));
            let deadline = Instant::now() + Duration::from_secs(20);
            while world.sm_b.check_service(NAME).unwrap().is_some() {
                assert!(Instant::now() < deadline, "the dead import stayed on bus B");
                std::thread::sleep(Duration::from_millis(50));
            }
        });
    }

    #[test]
    fn a_principal_the_policy_does_not_allow_is_refused() {
        with_timeout(90, || {
            let world = World::new("");
            // hostc may find the name (the policy says so) but not call it.
            let bus_c = PrivateBus::start().expect("bus c");
            let c = bridge_toml(
                "hostc",
                bus_c.path(),
                &["hosta"],
                &format!("connect = [\"quic/127.0.0.1:{}\"]", world.port),
                &format!("[[import]]\nfrom = \"hosta\"\nname = \"{NAME}\""),
            );
            let _bridge_c = start_bridge(world.dir.path(), "hostc", &c);
            let sm_c = ServiceManager::connect(&world.rt, bus_c.path()).unwrap();
            let svc: IConformanceProxy = sm_c
                .wait_for_interface(NAME, Duration::from_secs(30))
                .expect("hostc may find the name");
            let e = svc.echo("let me in").unwrap_err();
            assert_eq!(code(e.clone()), StatusCode::PERMISSION_DENIED, "{e}");
            // hostb, allowed, still calls.
            assert_eq!(world.remote().echo("ok").unwrap(), "ok");
        });
    }

    /// A raw Zenoh session with `name`'s certificate, connected to bridge A: an attacker that
    /// speaks the bridge's keys and payloads itself.
    fn raw_session(dir: &Path, name: &str, port: u16) -> zenoh::Session {
        use zenoh::Wait as _;
        let toml = bridge_toml(
            name,
            &dir.join("no-bus"),
            &["hosta"],
            &format!("connect = [\"quic/127.0.0.1:{port}\"]"),
            "",
        );
        let config = afbus_bridge::Config::parse(&toml, "raw.toml").expect("config");
        let config = zenoh::Config::from_json5(&config.zenoh_json().to_string()).expect("json");
        zenoh::open(config).wait().expect("open")
    }

    /// Every reply to a query on `key`: the payload of each, `Err` for an error reply.
    fn ask(session: &zenoh::Session, key: &str, payload: Vec<u8>) -> Vec<Result<Vec<u8>, Vec<u8>>> {
        use zenoh::Wait as _;
        let replies = session
            .get(key)
            .payload(payload)
            .timeout(Duration::from_secs(5))
            .wait()
            .expect("get");
        let mut all = Vec::new();
        while let Ok(reply) = replies.recv() {
            all.push(match reply.result() {
                Ok(s) => Ok(s.payload().to_bytes().into_owned()),
                Err(e) => Err(e.payload().to_bytes().into_owned()),
            });
        }
        all
    }

    fn failure(replies: &[Result<Vec<u8>, Vec<u8>>]) -> Status {
        match replies {
            [Err(bytes)] => Failure::decode(bytes).expect("a status").0,
            other => panic!("expected one error reply, got {other:?}"),
        }
    }

    #[test]
    fn a_peer_cannot_speak_under_another_peers_name() {
        with_timeout(90, || {
            let world = World::new("");
            let svc = world.remote();
            // Bridge A gives hostb an object: the service's callback.
            let theirs = svc.slow_callback(0).unwrap();
            let attacker = raw_session(world.dir.path(), "hostc", world.port);
            let call = Body::default()
                .encode_call(TransactionCode::FIRST_CALL)
                .unwrap();
            let own = keys::call("hosta", "hostc", &Target::Service(NAME.into()));
            // Under its own name, hostc is heard, and the policy refuses it the call.
            let deadline = Instant::now() + Duration::from_secs(20);
            let replies = loop {
                let replies = ask(&attacker, &own, call.clone());
                if !replies.is_empty() || Instant::now() > deadline {
                    break replies;
                }
                std::thread::sleep(Duration::from_millis(100));
            };
            let e = failure(&replies);
            assert_eq!(
                e.transaction_error(),
                StatusCode::PERMISSION_DENIED,
                "{e:?}"
            );
            // Under hostb's name, Zenoh's access control on bridge A drops the query: no
            // reply at all, from the service or from the bridge.
            let forged = keys::call("hosta", "hostb", &Target::Service(NAME.into()));
            assert_eq!(ask(&attacker, &forged, call.clone()), []);
            let forged = keys::oneway("hosta", "hostb", &Target::Service(NAME.into()));
            assert_eq!(ask(&attacker, &forged, call.clone()), []);
            // The object given to hostb is not hostc's, whatever its id.
            for id in 0..4 {
                let key = keys::call("hosta", "hostc", &Target::Object(id));
                let e = failure(&ask(&attacker, &key, call.clone()));
                assert_eq!(e.transaction_error(), StatusCode::DEAD_OBJECT, "{e:?}");
            }
            // It sees the tokens bridge A holds for it (the policy lets it find the name), and
            // none of those for hostb: neither which objects hostb holds nor what it may find.
            let tokens = |key: String| -> Vec<String> {
                use zenoh::Wait as _;
                let replies = attacker
                    .liveliness()
                    .get(key)
                    .timeout(Duration::from_secs(2))
                    .wait()
                    .expect("liveliness get");
                let mut keys = Vec::new();
                while let Ok(reply) = replies.recv() {
                    if let Ok(sample) = reply.result() {
                        keys.push(sample.key_expr().as_str().to_string());
                    }
                }
                keys
            };
            assert_eq!(
                tokens(keys::live_for("hosta", "hostc")),
                [keys::live_service("hosta", "hostc", NAME)]
            );
            assert_eq!(
                tokens(keys::live_for("hosta", "hostb")),
                Vec::<String>::new()
            );
            // Hostile payloads get a clear error, and the bridge serves on.
            for junk in [
                vec![],
                vec![1],
                vec![9; 100],
                call[..call.len() - 1].to_vec(),
            ] {
                let key = keys::call("hosta", "hostc", &Target::Object(1));
                assert_eq!(ask(&attacker, &key, junk).len(), 1);
            }
            assert_eq!(
                ICallback::ICallback::on_echo(&theirs, "x").unwrap(),
                "service:x"
            );
            assert_eq!(svc.echo("still").unwrap(), "still");
        });
    }

    #[test]
    fn signals_cross_by_member_as_the_policy_allows() {
        with_timeout(90, || {
            let world = World::new("");
            let _ = world.remote();
            let listener = BusSocket::connect(world.bus_b.path()).unwrap();
            for member in ["BatteryLow", "Secret"] {
                listener
                    .add_match(&Fields::new().with("member", member))
                    .unwrap();
            }
            let sender = BusSocket::connect(world.bus_a.path()).unwrap();
            let low = Fields::new()
                .with("member", "BatteryLow")
                .with("path", "/power/bat0");
            let secret = Fields::new().with("member", "Secret");
            // A second member would let a signal the policy refuses ride on one it allows.
            let smuggled = Fields::new()
                .with("member", "BatteryLow")
                .with("member", "Secret");
            // Bridge B's subscription reaches bridge A a moment after the link: send until
            // one arrives. Each round sends Secret first, which bus A's policy keeps from
            // hostb; signals from one sender arrive in order, so Secret would come first.
            let deadline = Instant::now() + Duration::from_secs(20);
            let got = loop {
                assert!(Instant::now() < deadline, "no signal crossed");
                sender.send_signal(&secret, b"1234").unwrap();
                sender.send_signal(&smuggled, b"1234").unwrap();
                sender.send_signal(&low, b"12%").unwrap();
                match listener.recv_event(Some(Duration::from_millis(200))) {
                    Ok(Event::Signal(signal)) => break signal,
                    _ => continue,
                }
            };
            assert_eq!(got.fields.get("path"), Some("/power/bat0"));
            assert_eq!(got.body, b"12%");
            // Whatever else arrives is BatteryLow alone too.
            let mut signal = got;
            loop {
                let members: Vec<_> = signal
                    .fields
                    .iter()
                    .filter(|(k, _)| *k == "member")
                    .collect();
                assert_eq!(members, [("member", "BatteryLow")]);
                match listener.recv_event(Some(Duration::from_millis(300))) {
                    Ok(Event::Signal(next)) => signal = next,
                    _ => break,
                }
            }
        });
    }

    #[test]
    fn a_peer_holds_at_most_objects_per_peer_of_the_buss_objects() {
        with_timeout(90, || {
            // Bridge A waits for a holder token its call timeout and GIVEN_GRACE: 2 + 5 s.
            let world = World::with("objects_per_peer = 3\ncall_timeout_ms = 2000", "");
            let svc = world.remote();
            let mut held: Vec<_> = (0..3).map(|_| svc.slow_callback(0).unwrap()).collect();
            let e = svc.slow_callback(0).unwrap_err();
            assert_eq!(code(e.clone()), StatusCode::NO_MEMORY, "{e}");
            assert!(e.message().contains("holds 3"), "{e}");
            // The refusal is the reply's: the service and the objects held work on.
            assert_eq!(
                ICallback::ICallback::on_echo(&held[0], "x").unwrap(),
                "service:x"
            );
            // Once one is let go (within GIVEN_GRACE), there is room for one more.
            held.pop();
            let deadline = Instant::now() + Duration::from_secs(20);
            let more = loop {
                match svc.slow_callback(0) {
                    Ok(more) => break more,
                    Err(e) => assert_eq!(code(e), StatusCode::NO_MEMORY),
                }
                assert!(
                    Instant::now() < deadline,
                    "the released object was never let go"
                );
                std::thread::sleep(Duration::from_millis(200));
            };
            assert_eq!(
                ICallback::ICallback::on_echo(&more, "y").unwrap(),
                "service:y"
            );
        });
    }
}
