//! The service the runtime tests call: one method per behaviour under test.
#![allow(dead_code)]

use std::os::fd::AsFd;
use std::sync::{Arc, Barrier};
use std::time::Duration;

use afbus_binder::{
    Binder, CallContext, ExceptionCode, Parcel, Priority, Runtime, RuntimeConfig, SpIBinder,
    Status, StatusCode, TransactionCode,
};
use afbus_transport::{BusSocket, Watch};

use crate::common::{ChildGuard, TestBus};
use parking_lot::{Condvar, Mutex};

pub const SVC: &str = "org.test.Svc";
pub const GATE: &str = "org.test.Gate";

pub const ECHO: TransactionCode = TransactionCode(1);
pub const LOG: TransactionCode = TransactionCode(2);
pub const WAIT_LOG: TransactionCode = TransactionCode(3);
pub const CALL_BACK: TransactionCode = TransactionCode(4);
pub const WHOAMI: TransactionCode = TransactionCode(5);
pub const PRIORITY: TransactionCode = TransactionCode(6);
pub const NICE_OF: TransactionCode = TransactionCode(7);
pub const SLEEP: TransactionCode = TransactionCode(8);
pub const ECHO_BINDER: TransactionCode = TransactionCode(9);
pub const MAKE_CHILD: TransactionCode = TransactionCode(10);
pub const IS_CHILD: TransactionCode = TransactionCode(11);
pub const WRITE_FD: TransactionCode = TransactionCode(12);
pub const BARRIER: TransactionCode = TransactionCode(13);
pub const GATED_LOG: TransactionCode = TransactionCode(14);
pub const OPEN_GATE: TransactionCode = TransactionCode(15);
pub const FAIL: TransactionCode = TransactionCode(16);
pub const PANIC: TransactionCode = TransactionCode(17);
pub const ONEWAY_CALL_BACK: TransactionCode = TransactionCode(18);
pub const BLOB_SUM: TransactionCode = TransactionCode(19);
pub const ONEWAY_BACKLOG: TransactionCode = TransactionCode(20);
pub const STORE_BINDER: TransactionCode = TransactionCode(21);
pub const LOAD_BINDER: TransactionCode = TransactionCode(22);
pub const BYTES_SUM: TransactionCode = TransactionCode(23);
/// Replies with an fd (`/dev/null`).
pub const NEW_FD: TransactionCode = TransactionCode(24);
/// How many times the last remote reference to the object MAKE_CHILD made went (u32).
pub const CHILD_REFS_GONE: TransactionCode = TransactionCode(25);

/// State shared by the service and its gate.
#[derive(Default)]
pub struct Shared {
    log: Mutex<Vec<i32>>,
    logged: Condvar,
    gate_open: Mutex<bool>,
    gate: Condvar,
    child: Mutex<Option<SpIBinder>>,
    child_shared: Mutex<Option<Arc<Shared>>>,
    stored: Mutex<Option<SpIBinder>>,
    pub last_caller: Mutex<Option<CallContext>>,
    pub last_refs_gone: Mutex<usize>,
    pub last_ref_cv: Condvar,
}

pub struct Service {
    pub shared: Arc<Shared>,
    barrier: Barrier,
    runtime: std::sync::Weak<Runtime>,
}

impl Service {
    pub fn new(shared: Arc<Shared>, runtime: &Arc<Runtime>) -> Service {
        Service {
            shared,
            barrier: Barrier::new(4),
            runtime: Arc::downgrade(runtime),
        }
    }
}

fn log_and_notify(shared: &Shared, seq: i32) {
    shared.log.lock().push(seq);
    shared.logged.notify_all();
}

impl Binder for Service {
    fn descriptor(&self) -> &str {
        "org.test.ISvc"
    }

    fn on_transact(
        &self,
        code: TransactionCode,
        data: &mut Parcel,
        reply: &mut Parcel,
        ctx: &CallContext,
    ) -> Result<(), Status> {
        let shared = &self.shared;
        match code {
            ECHO => reply.write_str(&data.read_string()?),
            LOG => log_and_notify(shared, data.read_i32()?),
            GATED_LOG => {
                let seq = data.read_i32()?;
                let mut open = shared.gate_open.lock();
                while !*open {
                    shared.gate.wait(&mut open);
                }
                drop(open);
                log_and_notify(shared, seq);
            }
            WAIT_LOG => {
                let want = data.read_i32()? as usize;
                let mut log = shared.log.lock();
                while log.len() < want {
                    if shared
                        .logged
                        .wait_for(&mut log, Duration::from_secs(20))
                        .timed_out()
                    {
                        break;
                    }
                }
                reply.write_slice(&log[..]);
            }
            CALL_BACK => {
                let cb = data.read_binder()?;
                let text = data.read_string()?;
                let mut args = Parcel::new();
                args.write_str(&text);
                let mut back = cb.transact(ECHO, args).map_err(Status::from)?;
                reply.write_str(&back.read_string()?);
            }
            WHOAMI => {
                assert_eq!(
                    afbus_binder::calling_context(),
                    Some(ctx.clone()),
                    "the calling context is this call's"
                );
                *shared.last_caller.lock() = Some(ctx.clone());
                reply.write_i32(ctx.caller().pid);
                reply.write_u32(ctx.caller().uid);
                reply.write_u32(ctx.caller().gid);
            }
            PRIORITY => {
                let now =
                    Priority::current().map_err(|_| Status::from(StatusCode::UNKNOWN_ERROR))?;
                reply.write_i32(nix::unistd::gettid().as_raw());
                reply.write_bool(now.policy.is_realtime());
                reply.write_i32(now.level);
                reply.write_bool(ctx.priority_applied);
            }
            NICE_OF => reply.write_i32(nice_of(data.read_i32()?)),
            SLEEP => {
                if data.read_bool()? {
                    let fd = data.take_fd()?;
                    let _ = nix::unistd::write(fd.as_fd(), b"x");
                }
                std::thread::sleep(Duration::from_millis(data.read_u64()?));
            }
            ECHO_BINDER => reply.write_binder(&data.read_binder()?),
            MAKE_CHILD => {
                let rt = self.runtime.upgrade().ok_or(StatusCode::DEAD_OBJECT)?;
                let child_shared = Arc::new(Shared::default());
                let child = rt.local(Service::new(child_shared.clone(), &rt));
                reply.write_binder(&child);
                *shared.child.lock() = Some(child);
                *shared.child_shared.lock() = Some(child_shared);
            }
            CHILD_REFS_GONE => {
                let child = shared.child_shared.lock().clone();
                let gone = child.map_or(0, |c| *c.last_refs_gone.lock());
                reply.write_u32(gone as u32);
            }
            IS_CHILD => {
                let b = data.read_binder()?;
                let same = shared.child.lock().as_ref() == Some(&b);
                reply.write_bool(same && b.is_local());
            }
            NEW_FD => reply.write_fd(
                std::fs::File::open("/dev/null")
                    .map_err(|_| Status::from(StatusCode::NO_MEMORY))?
                    .into(),
            ),
            WRITE_FD => {
                let fd = data.take_fd()?;
                nix::unistd::write(fd.as_fd(), data.read_string()?.as_bytes())
                    .map_err(|_| Status::from(StatusCode::BAD_VALUE))?;
            }
            BARRIER => {
                self.barrier.wait();
            }
            OPEN_GATE => {
                *shared.gate_open.lock() = true;
                shared.gate.notify_all();
            }
            FAIL => return Err(Status::new_service_specific(42, "asked to fail")),
            PANIC => panic!("asked to panic"),
            BYTES_SUM => {
                let bytes = data.read_bytes_ref()?;
                reply.write_u64(bytes.len() as u64);
                reply.write_u64(bytes.iter().map(|&b| u64::from(b)).sum());
            }
            BLOB_SUM => {
                let blob = data.read_blob()?;
                reply.write_u64(blob.len() as u64);
                reply.write_u64(blob.iter().map(|&b| u64::from(b)).sum());
            }
            // Keeps a reference for LOAD_BINDER to hand to whoever asks.
            STORE_BINDER => *shared.stored.lock() = Some(data.read_binder()?),
            LOAD_BINDER => {
                let stored = shared.stored.lock().clone();
                reply.write_binder(&stored.ok_or(StatusCode::NAME_NOT_FOUND)?);
            }
            ONEWAY_BACKLOG => {
                // The runtime's one-way backlog of the process `pid`: bytes, refused.
                let pid = data.read_i32()?;
                let rt = self.runtime.upgrade().ok_or(StatusCode::DEAD_OBJECT)?;
                let b = rt.oneway_senders().into_iter().find(|b| b.pid == pid);
                reply.write_u64(b.map_or(0, |b| b.bytes as u64));
                reply.write_bool(b.is_some_and(|b| b.refused));
            }
            ONEWAY_CALL_BACK => {
                // A one-way handler calling its caller back: the ordinary route, not nested.
                let cb = data.read_binder()?;
                let mut args = Parcel::new();
                args.write_str(&data.read_string()?);
                cb.transact(ECHO, args).map_err(Status::from)?;
            }
            _ => return Err(StatusCode::UNKNOWN_TRANSACTION.into()),
        }
        Ok(())
    }

    fn on_last_ref(&self) {
        *self.shared.last_refs_gone.lock() += 1;
        self.shared.last_ref_cv.notify_all();
    }
}

/// A thread's nice value, from /proc.
fn nice_of(tid: i32) -> i32 {
    let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).unwrap_or_default();
    // Fields after the command (which is in parentheses): state is field 3; nice is field 19.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    after
        .split_whitespace()
        .nth(16)
        .and_then(|n| n.parse().ok())
        .unwrap_or(i32::MIN)
}

/// Runs the service: publishes SVC and GATE on the bus and serves until killed.
pub fn serve(bus_path: &str) -> ! {
    serve_with(bus_path, RuntimeConfig::default())
}

/// [`serve`] with a runtime configured so.
pub fn serve_with(bus_path: &str, config: RuntimeConfig) -> ! {
    let rt = Arc::new(Runtime::new(config).expect("runtime"));
    rt.start_thread_pool();
    let bus = Arc::new(BusSocket::connect(bus_path).expect("join bus"));
    let shared = Arc::new(Shared::default());
    let svc = rt.local(Service::new(shared.clone(), &rt));
    let gate = rt.local(Service::new(shared, &rt));
    rt.publish(&bus, GATE, &gate).expect("publish gate");
    rt.publish(&bus, SVC, &svc).expect("publish service");
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

/// Waits until `name` has an owner on the bus.
pub fn wait_for_name(bus: &BusSocket, name: &str) {
    let n = name.parse().unwrap();
    bus.watch(&Watch::Name(n)).unwrap();
    let n = name.parse().unwrap();
    while bus.name_owner(&n).unwrap().is_none() {
        // Any event (the owner change among them) is a reason to look again.
        bus.recv_event(Some(Duration::from_secs(20))).unwrap();
    }
}

/// A status code of a failed call.
pub fn code_of<T: std::fmt::Debug>(r: afbus_binder::Result<T>) -> StatusCode {
    r.expect_err("the call should fail").code()
}

/// The exception of a failed call.
pub fn exception_of<T: std::fmt::Debug>(r: afbus_binder::Result<T>) -> ExceptionCode {
    match r.expect_err("the call should fail") {
        afbus_binder::Error::Service(s) => s.exception_code(),
        other => panic!("expected a service exception, got {other}"),
    }
}

/// A private bus, the service in a child process, and a client runtime joined to the bus.
pub struct World {
    pub bus: TestBus,
    pub server: ChildGuard,
    pub endpoint: BusSocket,
    pub rt: Runtime,
}

impl World {
    pub fn new(config: RuntimeConfig) -> World {
        let bus = TestBus::new();
        let server = bus.spawn("server");
        let endpoint = BusSocket::connect(bus.path()).unwrap();
        wait_for_name(&endpoint, SVC);
        let rt = Runtime::new(config).unwrap();
        World {
            bus,
            server,
            endpoint,
            rt,
        }
    }

    pub fn svc(&self) -> SpIBinder {
        self.rt.get_service(&self.endpoint, SVC).unwrap()
    }

    pub fn gate(&self) -> SpIBinder {
        wait_for_name(&self.endpoint, GATE);
        self.rt.get_service(&self.endpoint, GATE).unwrap()
    }
}
