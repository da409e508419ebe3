//! Async proxies and services (the runtime's `tokio` feature) against blocking ones, across
//! processes, on both paths: every case runs with an async client, and against an async and a
//! blocking service, on shared memory and on the socket. Cases: a plain call, one-way order,
//! nested callbacks (blocking and async callbacks, called back by blocking and async services),
//! the caller's identity, fds, cancellation by dropping the future, a death notice as a future,
//! and a current-thread runtime that keeps running other tasks while a call is out.

#[path = "../../../transport/tests/common/mod.rs"]
mod common;

use std::io::Write as _;
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use afbus_binder::{calling_context, Runtime, RuntimeConfig, Status, StatusCode};
use afbus_idl_e2e::org::afbus::test::{
    ICallback::{self, ICallbackAsync as _, ICallbackProxy},
    IConformance::{self, IConformanceAsync as _, IConformanceProxy},
};
use afbus_transport::{BusSocket, Watch};
use common::{child_role, spawn_role, with_timeout, ChildGuard, TestBus, BUS_VAR};
use nix::sys::resource::UsageWho;
use parking_lot::{Condvar, Mutex};

const NAME: &str = "org.afbus.test.Conformance";

#[test]
fn child_entry() {
    let Some((role, bus)) = child_role() else {
        return;
    };
    match role.as_str() {
        "async-server" => serve_async(&bus),
        "sync-server" => serve_sync(&bus),
        other => panic!("unknown role {other}"),
    }
}

fn config() -> RuntimeConfig {
    RuntimeConfig {
        shm: std::env::var("AFBUS_SHM").as_deref() != Ok("0"),
        ..RuntimeConfig::default()
    }
}

fn io(e: std::io::Error) -> Status {
    Status::new_exception(afbus_binder::ExceptionCode::ILLEGAL_STATE, e.to_string())
}

fn read_all(fd: &OwnedFd) -> Result<String, Status> {
    use std::io::Read as _;
    let mut file = std::fs::File::from(fd.try_clone().map_err(io)?);
    let mut text = String::new();
    file.read_to_string(&mut text).map_err(io)?;
    Ok(text)
}

fn who() -> Result<Vec<i32>, Status> {
    let ctx = calling_context().ok_or(StatusCode::INVALID_OPERATION)?;
    Ok(vec![ctx.caller().pid, ctx.caller().uid as i32])
}

/// The async service: every method awaits something before it answers.
struct AsyncService {
    rt: Arc<Runtime>,
    recorded: Mutex<Vec<i32>>,
    changed: tokio::sync::Notify,
    sleeps: AtomicI32,
    callbacks: Arc<AtomicI32>,
}

impl AsyncService {
    fn new(rt: Arc<Runtime>) -> AsyncService {
        AsyncService {
            rt,
            recorded: Mutex::default(),
            changed: tokio::sync::Notify::new(),
            sleeps: AtomicI32::new(0),
            callbacks: Arc::default(),
        }
    }
}

/// A callback object the service counts while it lives.
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
        Ok(text.to_owned())
    }
    fn on_value(&self, _: i32) -> Result<(), Status> {
        Ok(())
    }
}

impl IConformance::IConformanceAsyncServer for AsyncService {
    async fn echo(&self, text: &str) -> Result<String, Status> {
        tokio::task::yield_now().await;
        Ok(text.to_owned())
    }

    async fn record(&self, value: i32) -> Result<(), Status> {
        tokio::task::yield_now().await;
        self.recorded.lock().push(value);
        self.changed.notify_waiters();
        Ok(())
    }

    async fn recorded(&self, count: i32) -> Result<Vec<i32>, Status> {
        let wait = async {
            loop {
                let changed = self.changed.notified();
                if self.recorded.lock().len() >= count as usize {
                    return self.recorded.lock().clone();
                }
                changed.await;
            }
        };
        tokio::time::timeout(Duration::from_secs(10), wait)
            .await
            .map_err(|_| Status::from(StatusCode::TIMED_OUT))
    }

    async fn call_back(&self, cb: &ICallbackProxy, text: &str) -> Result<String, Status> {
        // Nested, and awaited: the callback reaches the caller's process while it waits.
        cb.on_echo(text).await
    }

    async fn who_am_i(&self) -> Result<Vec<i32>, Status> {
        tokio::task::yield_now().await;
        who()
    }

    async fn read_fd(&self, fd: &OwnedFd) -> Result<String, Status> {
        read_all(fd)
    }

    async fn sleep(&self, millis: i32) -> Result<(), Status> {
        tokio::time::sleep(Duration::from_millis(millis as u64)).await;
        self.sleeps.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    async fn sleeps_done(&self) -> Result<i32, Status> {
        Ok(self.sleeps.load(Ordering::SeqCst))
    }

    async fn exit(&self) -> Result<(), Status> {
        std::process::exit(0)
    }

    async fn slow_callback(&self, millis: i32) -> Result<ICallbackProxy, Status> {
        tokio::time::sleep(Duration::from_millis(millis as u64)).await;
        Ok(ICallbackProxy::new_local(
            &self.rt,
            Counted::new(&self.callbacks),
        ))
    }

    async fn live_callbacks(&self) -> Result<i32, Status> {
        Ok(self.callbacks.load(Ordering::SeqCst))
    }

    async fn handler_nice(&self) -> Result<i32, Status> {
        // Across an await: the future stays on the looper that got the call.
        tokio::task::yield_now().await;
        nice()
    }
}

/// The nice value of the calling thread.
fn nice() -> Result<i32, Status> {
    let p = afbus_binder::Priority::current().map_err(io)?;
    Ok(p.level)
}

/// The same service, blocking.
struct SyncService {
    rt: Arc<Runtime>,
    recorded: Mutex<Vec<i32>>,
    changed: Condvar,
    sleeps: AtomicI32,
    callbacks: Arc<AtomicI32>,
}

impl IConformance::IConformance for SyncService {
    fn echo(&self, text: &str) -> Result<String, Status> {
        Ok(text.to_owned())
    }

    fn record(&self, value: i32) -> Result<(), Status> {
        self.recorded.lock().push(value);
        self.changed.notify_all();
        Ok(())
    }

    fn recorded(&self, count: i32) -> Result<Vec<i32>, Status> {
        let mut recorded = self.recorded.lock();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
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
        who()
    }

    fn read_fd(&self, fd: &OwnedFd) -> Result<String, Status> {
        read_all(fd)
    }

    fn sleep(&self, millis: i32) -> Result<(), Status> {
        std::thread::sleep(Duration::from_millis(millis as u64));
        self.sleeps.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    fn sleeps_done(&self) -> Result<i32, Status> {
        Ok(self.sleeps.load(Ordering::SeqCst))
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
        nice()
    }
}

/// A callback that prefixes what it echoes.
struct Prefixer(&'static str);

impl ICallback::ICallback for Prefixer {
    fn on_echo(&self, text: &str) -> Result<String, Status> {
        Ok(format!("{}{text}", self.0))
    }
    fn on_value(&self, _: i32) -> Result<(), Status> {
        Ok(())
    }
}

/// The same callback, async.
struct AsyncPrefixer(&'static str);

impl ICallback::ICallbackAsyncServer for AsyncPrefixer {
    async fn on_echo(&self, text: &str) -> Result<String, Status> {
        tokio::task::yield_now().await;
        Ok(format!("{}{text}", self.0))
    }
    async fn on_value(&self, _: i32) -> Result<(), Status> {
        Ok(())
    }
}

fn publish(bus_path: &str, rt: &Runtime, service: &IConformanceProxy) -> ! {
    let bus = Arc::new(BusSocket::connect(bus_path).expect("join bus"));
    rt.publish(&bus, NAME, service.as_binder())
        .expect("publish");
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

fn serve_async(bus_path: &str) -> ! {
    let tokio = tokio::runtime::Runtime::new().expect("tokio");
    let _in_tokio = tokio.enter();
    let rt = Arc::new(Runtime::new(config()).expect("runtime"));
    rt.start_thread_pool();
    let service = IConformanceProxy::new_async_local(&rt, AsyncService::new(rt.clone()));
    publish(bus_path, &rt, &service)
}

fn serve_sync(bus_path: &str) -> ! {
    let rt = Arc::new(Runtime::new(config()).expect("runtime"));
    rt.start_thread_pool();
    let service = IConformanceProxy::new_local(
        &rt,
        SyncService {
            rt: rt.clone(),
            recorded: Mutex::default(),
            changed: Condvar::new(),
            sleeps: AtomicI32::new(0),
            callbacks: Arc::default(),
        },
    );
    publish(bus_path, &rt, &service)
}

/// A private bus, a service (`role`) in a child process on the path `shm` says, and a client
/// runtime on the same path.
struct World {
    _bus: TestBus,
    server: ChildGuard,
    rt: Runtime,
    svc: IConformanceProxy,
}

impl World {
    fn new(role: &str, shm: bool) -> World {
        let client = RuntimeConfig {
            shm,
            ..RuntimeConfig::default()
        };
        World::with_client(role, shm, client, true)
    }

    /// The service on the path `shm` says; a client runtime of `client`, with its thread pool
    /// started if `pool`.
    fn with_client(role: &str, shm: bool, client: RuntimeConfig, pool: bool) -> World {
        let bus = TestBus::new();
        let path = bus.path().to_str().unwrap().to_owned();
        let shm_env = if shm { "1" } else { "0" };
        let server = spawn_role(role, &[(BUS_VAR, &path), ("AFBUS_SHM", shm_env)]);
        let endpoint = BusSocket::connect(bus.path()).unwrap();
        let name = NAME.parse().unwrap();
        endpoint.watch(&Watch::Name(NAME.parse().unwrap())).unwrap();
        while endpoint.name_owner(&name).unwrap().is_none() {
            endpoint.recv_event(Some(Duration::from_secs(20))).unwrap();
        }
        let rt = Runtime::new(client).unwrap();
        if pool {
            rt.start_thread_pool();
        }
        let svc = IConformanceProxy::from_binder_checked(rt.get_service(&endpoint, NAME).unwrap())
            .unwrap();
        World {
            _bus: bus,
            server,
            rt,
            svc,
        }
    }
}

fn multi_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Every case, from async code, against `role` on the path `shm` says.
fn async_client(role: &'static str, shm: bool) {
    with_timeout(90, move || {
        let w = World::new(role, shm);
        multi_thread().block_on(async {
            let svc = &w.svc;
            // A plain call.
            assert_eq!(svc.echo("hello").await.unwrap(), "hello");

            // One-way calls run in the order sent.
            for i in 0..100 {
                svc.record(i).await.unwrap();
            }
            assert_eq!(
                svc.recorded(100).await.unwrap(),
                (0..100).collect::<Vec<_>>()
            );

            // Nested calls into a blocking callback and into an async one.
            let cb = ICallbackProxy::new_local(&w.rt, Prefixer("sync:"));
            assert_eq!(svc.call_back(&cb, "x").await.unwrap(), "sync:x");
            let cb = ICallbackProxy::new_async_local(&w.rt, AsyncPrefixer("async:"));
            assert_eq!(svc.call_back(&cb, "y").await.unwrap(), "async:y");

            // The kernel's word for who called.
            let me = [
                std::process::id() as i32,
                nix::unistd::geteuid().as_raw() as i32,
            ];
            assert_eq!(svc.who_am_i().await.unwrap(), me);

            // An fd travels.
            let (r, wr) = nix::unistd::pipe().unwrap();
            std::fs::File::from(wr)
                .write_all(b"through a pipe")
                .unwrap();
            assert_eq!(svc.read_fd(&r).await.unwrap(), "through a pipe");

            // Many calls at once on one proxy, from tasks on both workers.
            let tasks: Vec<_> = (0..32)
                .map(|i| {
                    let svc = svc.clone();
                    tokio::spawn(async move { svc.echo(&i.to_string()).await })
                })
                .collect();
            for (i, task) in tasks.into_iter().enumerate() {
                assert_eq!(task.await.unwrap().unwrap(), i.to_string());
            }

            // A call given up: its late reply is discarded, the proxy works on, and the
            // service did run it.
            let gave_up = tokio::time::timeout(Duration::from_millis(20), svc.sleep(300)).await;
            assert!(gave_up.is_err(), "the call should still be out");
            assert_eq!(svc.echo("after").await.unwrap(), "after");
            tokio::time::sleep(Duration::from_millis(400)).await;
            assert_eq!(svc.sleeps_done().await.unwrap(), 1);
            assert_eq!(svc.echo("later").await.unwrap(), "later");

            // What a given-up call's late reply carries is let go: an object in it does not
            // stay counted as held by us.
            let held = svc.slow_callback(0).await.unwrap();
            assert_eq!(svc.live_callbacks().await.unwrap(), 1);
            drop(held);
            let gave_up =
                tokio::time::timeout(Duration::from_millis(20), svc.slow_callback(200)).await;
            assert!(gave_up.is_err(), "the call should still be out");
            // The service made the object and replied by now.
            tokio::time::sleep(Duration::from_millis(400)).await;
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            while svc.live_callbacks().await.unwrap() != 0 {
                assert!(
                    std::time::Instant::now() < deadline,
                    "an object of a discarded reply is still held"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
    });
}

#[test]
fn async_client_async_service_shm() {
    async_client("async-server", true);
}

#[test]
fn async_client_async_service_socket() {
    async_client("async-server", false);
}

#[test]
fn async_client_blocking_service_shm() {
    async_client("sync-server", true);
}

#[test]
fn async_client_blocking_service_socket() {
    async_client("sync-server", false);
}

/// A blocking client of the async service: the same wire, the same answers.
fn blocking_client(shm: bool) {
    with_timeout(60, move || {
        let w = World::new("async-server", shm);
        let svc = &w.svc;
        assert_eq!(IConformance::IConformance::echo(svc, "hi").unwrap(), "hi");
        for i in 0..50 {
            IConformance::IConformance::record(svc, i).unwrap();
        }
        assert_eq!(
            IConformance::IConformance::recorded(svc, 50).unwrap(),
            (0..50).collect::<Vec<_>>()
        );
        let cb = ICallbackProxy::new_local(&w.rt, Prefixer("sync:"));
        assert_eq!(
            IConformance::IConformance::call_back(svc, &cb, "z").unwrap(),
            "sync:z"
        );
        let me = [
            std::process::id() as i32,
            nix::unistd::geteuid().as_raw() as i32,
        ];
        assert_eq!(IConformance::IConformance::who_am_i(svc).unwrap(), me);
        let (r, wr) = nix::unistd::pipe().unwrap();
        std::fs::File::from(wr).write_all(b"piped").unwrap();
        assert_eq!(
            IConformance::IConformance::read_fd(svc, &r).unwrap(),
            "piped"
        );
    });
}

#[test]
fn blocking_client_async_service_shm() {
    blocking_client(true);
}

#[test]
fn blocking_client_async_service_socket() {
    blocking_client(false);
}

/// A call that is out does not hold the only worker of a current-thread runtime: a ticking
/// task keeps running meanwhile.
#[test]
fn a_call_out_blocks_no_worker() {
    with_timeout(60, || {
        let w = World::new("sync-server", true);
        let rt = current_thread();
        let ticks = Arc::new(AtomicUsize::new(0));
        let ticked = rt.block_on(async {
            let t = ticks.clone();
            let ticker = tokio::spawn(async move {
                loop {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    t.fetch_add(1, Ordering::SeqCst);
                }
            });
            let before = ticks.load(Ordering::SeqCst);
            w.svc.sleep(300).await.unwrap();
            let during = ticks.load(Ordering::SeqCst) - before;
            ticker.abort();
            during
        });
        // 300 ms at one tick per 5 ms: 60 if nothing held the thread (a blocked worker: 0).
        assert!(
            ticked >= 20,
            "the ticker ran {ticked} times while the call was out"
        );
    });
}

/// A death notice as a future: it resolves when the service's process ends, and calls fail
/// with DEAD_OBJECT after.
fn death_is_a_future(shm: bool) {
    with_timeout(60, move || {
        let mut w = World::new("async-server", shm);
        multi_thread().block_on(async {
            let binder = w.svc.as_binder().clone();
            let died = binder.died();
            w.svc.exit().await.unwrap();
            tokio::time::timeout(Duration::from_secs(20), died)
                .await
                .expect("no death notice");
            let err = w.svc.echo("gone?").await.unwrap_err();
            assert_eq!(err.transaction_error(), StatusCode::DEAD_OBJECT, "{err:?}");
        });
        w.server.kill();
    });
}

#[test]
fn death_is_a_future_shm() {
    death_is_a_future(true);
}

#[test]
fn death_is_a_future_socket() {
    death_is_a_future(false);
}

/// The service manager from async code: a get that waits (in the daemon, no thread here) for a
/// registration made later, and the registration and removal as a stream.
#[test]
fn service_manager_async() {
    use afbus_servicemanager::{Notice, PrivateBus, ServiceManager};
    const LATER: &str = "org.afbus.test.Later";
    with_timeout(60, || {
        let bus = PrivateBus::start().unwrap();
        let rt = Arc::new(Runtime::new(RuntimeConfig::default()).unwrap());
        rt.start_thread_pool();
        let sm = Arc::new(ServiceManager::connect(&rt, bus.path()).unwrap());
        multi_thread().block_on(async {
            let mut notices = sm.notifications(&rt, LATER).await.unwrap();
            let service = IConformanceProxy::new_async_local(&rt, AsyncService::new(rt.clone()));
            let (sm2, svc2) = (sm.clone(), service.clone());
            let registrar = tokio::task::spawn_blocking(move || {
                std::thread::sleep(Duration::from_millis(100));
                sm2.add_service(LATER, svc2.as_binder()).unwrap();
            });
            let got = sm
                .wait_for_service_async(LATER, Duration::from_secs(10))
                .await
                .unwrap();
            registrar.await.unwrap();
            let got = IConformanceProxy::from_binder(got);
            assert_eq!(got.echo("found").await.unwrap(), "found");
            match notices.next().await {
                Some(Notice::Registered { name, service: s }) => {
                    assert_eq!(name, LATER);
                    assert_eq!(s, *service.as_binder());
                }
                other => panic!("expected the registration, got {other:?}"),
            }
            assert!(sm
                .try_unregister_service(LATER, service.as_binder())
                .unwrap());
            match notices.next().await {
                Some(Notice::Removed { name }) => assert_eq!(name, LATER),
                other => panic!("expected the removal, got {other:?}"),
            }
            let missing = sm
                .wait_for_service_async(LATER, Duration::from_millis(50))
                .await
                .unwrap_err();
            assert_eq!(missing.code(), StatusCode::NAME_NOT_FOUND, "{missing}");
        });
    });
}

/// Reference counts as a future: the last reference's drop resolves `last_ref`.
#[test]
fn last_ref_is_a_future() {
    with_timeout(60, || {
        let w = World::new("sync-server", true);
        multi_thread().block_on(async {
            let (watched, mut refs) =
                afbus_binder::tokio::watch_refs(ICallback::ICallbackStub::new(Prefixer("held:")));
            let cb = ICallbackProxy::from_binder(w.rt.local(watched));
            // The service calls it back (a reference held for the call), then drops it.
            assert_eq!(w.svc.call_back(&cb, "x").await.unwrap(), "held:x");
            tokio::time::timeout(Duration::from_secs(10), refs.last_ref())
                .await
                .expect("the last reference was never let go");
            assert_eq!(refs.count(), 0);
        });
    });
}

/// An async service's handler runs at its caller's priority (here a nice value the caller may
/// set without privilege), across its awaits: it runs on the looper that got the call.
#[test]
fn async_handlers_run_at_the_callers_priority() {
    use afbus_binder::{Priority, SchedPolicy};
    with_timeout(60, || {
        let w = World::new("async-server", true);
        let rt = current_thread();
        rt.block_on(async {
            assert_eq!(w.svc.handler_nice().await.unwrap(), 0);
            let nice7 = Priority {
                policy: SchedPolicy::Other,
                level: 7,
            };
            nice7.apply().unwrap();
            assert_eq!(w.svc.handler_nice().await.unwrap(), 7);
        });
    });
}

/// CPU time used so far by `who` (this thread, or this process).
fn cpu_time(who: nix::sys::resource::UsageWho) -> Duration {
    let u = nix::sys::resource::getrusage(who).unwrap();
    let us = |t: nix::sys::time::TimeVal| t.tv_sec() as u64 * 1_000_000 + t.tv_usec() as u64;
    Duration::from_micros(us(u.user_time()) + us(u.system_time()))
}

/// Calls awaited together on one channel (two in one task, and a third in another task) wait
/// without spinning: this thread's CPU time while they are out stays a fraction of the wait.
#[test]
fn calls_awaited_together_do_not_spin() {
    let cpu = || cpu_time(UsageWho::RUSAGE_THREAD);
    with_timeout(60, move || {
        let w = World::new("sync-server", true);
        let rt = current_thread();
        let used = rt.block_on(async {
            let other = w.svc.clone();
            let third = tokio::spawn(async move { other.sleep(300).await });
            let before = cpu();
            let (a, b) = tokio::join!(w.svc.sleep(300), w.svc.sleep(300));
            let used = cpu() - before;
            a.unwrap();
            b.unwrap();
            third.await.unwrap().unwrap();
            used
        });
        assert!(
            used < Duration::from_millis(100),
            "{used:?} of CPU while three calls were out for 300 ms"
        );
    });
}

/// A proxy awaited from one tokio runtime, then from another after the first is gone: each
/// runtime's reactor gets its own registration of the channel.
#[test]
fn a_proxy_outlives_the_runtime_that_first_awaited_it() {
    with_timeout(60, || {
        let w = World::new("sync-server", true);
        let current = current_thread;
        // Long enough that the reply comes through the reactor, not the first look.
        current().block_on(w.svc.sleep(50)).unwrap();
        current().block_on(async {
            w.svc.sleep(50).await.unwrap();
            assert_eq!(w.svc.echo("again").await.unwrap(), "again");
        });
    });
}

/// A client runtime with no thread pool at all (nested calls served by the waiting thread, in
/// blocking code) still takes callbacks nested in an awaited call: they run on tokio's
/// blocking pool.
#[test]
fn callbacks_reach_an_async_client_without_loopers() {
    with_timeout(60, || {
        let client = RuntimeConfig {
            max_threads: 0,
            ..RuntimeConfig::default()
        };
        let w = World::with_client("async-server", true, client, false);
        let (rt, svc) = (&w.rt, &w.svc);
        multi_thread().block_on(async {
            let cb = ICallbackProxy::new_local(rt, Prefixer("pool:"));
            assert_eq!(svc.call_back(&cb, "x").await.unwrap(), "pool:x");
        });
    });
}

/// Blocking and awaited calls on one proxy at once, their replies close together: once they
/// are answered, the process goes quiet (no thread keeps polling the channel).
#[test]
fn blocking_and_awaited_calls_on_one_proxy_leave_nothing_spinning() {
    let cpu = || cpu_time(UsageWho::RUSAGE_SELF);
    with_timeout(60, move || {
        let w = World::new("sync-server", true);
        let rt = multi_thread();
        // Often enough that, now and then, one reply waits in the ring when the other's reader
        // lets go (which left a looper polling an empty channel for ever, before).
        for _ in 0..60 {
            let svc = w.svc.clone();
            let blocking = std::thread::spawn(move || IConformance::IConformance::sleep(&svc, 20));
            rt.block_on(w.svc.sleep(20)).unwrap();
            blocking.join().unwrap().unwrap();
        }
        std::thread::sleep(Duration::from_millis(50));
        let before = cpu();
        std::thread::sleep(Duration::from_millis(300));
        let used = cpu() - before;
        assert!(
            used < Duration::from_millis(100),
            "{used:?} of CPU in 300 ms of quiet"
        );
    });
}
