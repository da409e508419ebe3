//! The `afbus-socket` and `afbus-shm` rows: binder calls through the runtime, between a client
//! and a service on a private bus. Which path a channel takes is the runtime's choice, steered
//! by `AFBUS_SHM` in both processes' environments (set by the parent before either starts).
//! The `-async` rows make the same calls from async code: `transact_async`, awaited on a
//! current-thread tokio runtime (the thread that polls the call drives the reactor, as a
//! single-threaded async program's does), against the same blocking service.

use std::sync::Arc;

use afbus::binder::{
    Binder, CallContext, Parcel, Runtime, RuntimeConfig, SpIBinder, Status, StatusCode,
    TransactionCode,
};
use afbus::transport::{AllowAll, BusMaster, BusSocket, MasterHandle};

use super::common::{retry, ChildGuard, Result};
use super::{runs_at_caller_priority, Client, Op, SCHD_PRIORITY};

const NAME: &str = "org.afbus.bench.Latency";
/// The same service from a runtime whose loopers wait at [`SCHD_PRIORITY`]
/// ([`RuntimeConfig::priority_ceiling`]), as a service for real-time callers is set up; the
/// `schd` workload calls it.
const NAME_RT: &str = "org.afbus.bench.LatencyRt";

fn code(op: Op) -> TransactionCode {
    TransactionCode(op as u32)
}

/// The service: the same answers as the raw servers.
struct Service;

impl Binder for Service {
    fn descriptor(&self) -> &str {
        "org.afbus.bench.ILatency"
    }

    fn on_transact(
        &self,
        code: TransactionCode,
        data: &mut Parcel,
        reply: &mut Parcel,
        _: &CallContext,
    ) -> std::result::Result<(), Status> {
        match Op::from_wire(code.0) {
            Some(Op::Null) => {}
            Some(Op::Echo) => reply.write_bytes(data.read_bytes_ref()?),
            Some(Op::Object) => reply.write_binder(&data.read_binder()?),
            Some(Op::Schd) => reply.write_bool(runs_at_caller_priority()),
            // Pings are answered by the runtime.
            Some(Op::Ping) | None => return Err(StatusCode::UNKNOWN_TRANSACTION.into()),
        }
        Ok(())
    }
}

/// A token object that travels in the `object` workload.
struct Token;

impl Binder for Token {
    fn descriptor(&self) -> &str {
        "org.afbus.bench.IToken"
    }

    fn on_transact(
        &self,
        _: TransactionCode,
        _: &mut Parcel,
        _: &mut Parcel,
        _: &CallContext,
    ) -> std::result::Result<(), Status> {
        Err(StatusCode::UNKNOWN_TRANSACTION.into())
    }
}

/// The client side, with the bus and the server process it started.
pub struct AfbusClient {
    svc: SpIBinder,
    svc_rt: SpIBinder,
    token: SpIBinder,
    /// For the `-async` rows.
    tokio: Option<tokio::runtime::Runtime>,
    _rt: Runtime,
    _server: ChildGuard,
    _master: MasterHandle,
    _dir: tempfile::TempDir,
}

impl AfbusClient {
    /// Starts a private bus; `spawn` starts the server on the bus path given and returns once
    /// it has published the service.
    pub fn new(
        asynchronous: bool,
        spawn: impl FnOnce(&str) -> Result<ChildGuard>,
    ) -> Result<AfbusClient> {
        let dir = tempfile::tempdir()?;
        let master = BusMaster::bind(dir.path().join("bus"), AllowAll)?.spawn()?;
        let bus = master
            .path()
            .to_str()
            .ok_or("bus path not UTF-8")?
            .to_owned();
        let server = spawn(&bus)?;
        let rt = Runtime::new(RuntimeConfig::default())?;
        // The client exports an object (the `object` workload's token): like any owner it needs
        // a looper, which serves calls on it and closes its reference channels when they hang up.
        rt.start_thread_pool();
        let me = BusSocket::connect(master.path())?;
        let svc = retry(|| rt.get_service(&me, NAME))?;
        let svc_rt = retry(|| rt.get_service(&me, NAME_RT))?;
        let token = rt.local(Token);
        let tokio = match asynchronous {
            true => Some(
                tokio::runtime::Builder::new_current_thread()
                    .enable_io()
                    .build()?,
            ),
            false => None,
        };
        Ok(AfbusClient {
            svc,
            svc_rt,
            token,
            tokio,
            _rt: rt,
            _server: server,
            _master: master,
            _dir: dir,
        })
    }
}

impl Client for AfbusClient {
    fn call(&mut self, op: Op, payload: &[u8]) -> Result<bool> {
        let mut p = Parcel::new();
        match op {
            Op::Ping => {
                self.svc.ping()?;
                return Ok(true);
            }
            Op::Null if payload.is_empty() => {}
            Op::Null | Op::Echo => p.write_bytes(payload),
            Op::Object => p.write_binder(&self.token),
            Op::Schd => {}
        }
        let svc = if op == Op::Schd {
            &self.svc_rt
        } else {
            &self.svc
        };
        let mut reply = match &self.tokio {
            None => svc.transact(code(op), p)?,
            Some(tokio) => tokio.block_on(svc.transact_async(code(op), p))?,
        };
        match op {
            Op::Echo if reply.read_bytes()?.len() != payload.len() => {
                Err("echo came back with another length".into())
            }
            Op::Object if !reply.read_binder()?.is_local() => {
                Err("the object came back as someone else's".into())
            }
            Op::Schd => Ok(reply.read_bool()?),
            _ => Ok(true),
        }
    }
}

/// The server process: publishes the service on `bus` twice (see [`NAME_RT`]), says it is
/// ready, and serves.
pub fn server(bus: &str) -> Result {
    let rt = Runtime::new(RuntimeConfig::default())?;
    let endpoint = Arc::new(BusSocket::connect(bus)?);
    rt.publish(&endpoint, NAME, &rt.local(Service))?;
    let rt_ceiling = Runtime::new(RuntimeConfig {
        priority_ceiling: Some(SCHD_PRIORITY),
        ..RuntimeConfig::default()
    })?;
    let endpoint_rt = Arc::new(BusSocket::connect(bus)?);
    rt_ceiling.publish(&endpoint_rt, NAME_RT, &rt_ceiling.local(Service))?;
    rt_ceiling.start_thread_pool();
    super::say_ready()?;
    rt.join_thread_pool();
    Ok(())
}
