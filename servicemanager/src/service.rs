//! The IServiceManager object the daemon serves.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Child;
use std::sync::Arc;
use std::time::{Duration, Instant};

use afbus_binder::{
    Binder, CallContext, ExceptionCode, Parcel, SpIBinder, Status, StatusCode, TransactionCode,
};
use parking_lot::{Condvar, Mutex, RwLock};

use crate::activation::{Activation, Declaration};
use crate::policy::{Op, Policy};
use crate::protocol::*;
use crate::registry::{Owner, Registry};

/// The registry, the declared services and the policy behind IServiceManager.
pub struct ServiceManager {
    state: Mutex<State>,
    changed: Condvar,
    policy: Arc<RwLock<Policy>>,
    bus: PathBuf,
    me: std::sync::Weak<ServiceManager>,
}

/// What one lock guards: registrations and the processes started to make them.
struct State {
    registry: Registry<SpIBinder, SpIBinder>,
    activation: Activation,
}

impl ServiceManager {
    /// A registry governed by `policy` (shared with the bus master, replaced on reload), which
    /// starts `declared` services on demand with `bus` as their bus.
    pub fn new(
        policy: Arc<RwLock<Policy>>,
        bus: PathBuf,
        declared: BTreeMap<String, Declaration>,
    ) -> Arc<ServiceManager> {
        let activation = Activation::new(declared);
        Arc::new_cyclic(|me| ServiceManager {
            state: Mutex::new(State {
                registry: Registry::default(),
                activation,
            }),
            changed: Condvar::new(),
            policy,
            bus,
            me: me.clone(),
        })
    }

    /// Replaces the declarations (on reload); processes already started are kept.
    pub fn set_declared(&self, declared: BTreeMap<String, Declaration>) {
        self.state.lock().activation.declared = declared;
    }

    fn check(&self, op: Op, ctx: &CallContext, name: &str) -> Result<(), Status> {
        if self
            .policy
            .read()
            .allows(op, ctx.caller.uid, ctx.caller.gid, name)
        {
            Ok(())
        } else {
            Err(Status::new_exception(
                ExceptionCode::SECURITY,
                format!("uid {} may not {op} {name:?} (bus policy)", ctx.caller.uid),
            ))
        }
    }

    fn add(&self, name: &str, service: SpIBinder, ctx: &CallContext) -> Result<(), Status> {
        self.check(Op::Own, ctx, name)?;
        let owner = Owner {
            pid: ctx.caller.pid,
            uid: ctx.caller.uid,
        };
        let may_replace = ctx.caller.uid == 0 || ctx.caller.uid == self.policy.read().owner_uid();
        let callbacks = {
            let mut st = self.state.lock();
            let (_, callbacks) = st
                .registry
                .add(name, service.clone(), owner, may_replace)
                .map_err(|e| {
                    Status::new_exception(ExceptionCode::ILLEGAL_ARGUMENT, e.to_string())
                })?;
            st.activation.registered(name);
            callbacks
        };
        let me = self.me.clone();
        // The owner's exit removes its entries. The recipient holds no reference to the service
        // (that would keep its channel open for ever): it removes whatever is dead.
        let _ = service.link_to_death(Arc::new(move || {
            if let Some(sm) = me.upgrade() {
                sm.remove_dead();
            }
        }));
        self.changed.notify_all();
        for cb in callbacks {
            notify(&cb, ON_REGISTRATION, name, Some(&service));
        }
        Ok(())
    }

    /// Withdraws `name` if `service` is what it names and the caller is the process that
    /// registered it.
    fn try_unregister(&self, name: &str, service: &SpIBinder, ctx: &CallContext) -> bool {
        let callbacks = {
            let mut st = self.state.lock();
            let by_owner = st
                .registry
                .get(name)
                .is_some_and(|e| e.owner.pid == ctx.caller.pid);
            if !by_owner || !st.registry.remove_if_object(name, service) {
                return false;
            }
            st.registry.callbacks_of(name)
        };
        tracing::info!(name, "service unregistered itself");
        for cb in callbacks {
            notify(&cb, ON_REMOVAL, name, None);
        }
        true
    }

    fn remove_dead(&self) {
        let removed = self.state.lock().registry.remove_where(|s| !s.is_alive());
        for (name, callbacks) in removed {
            tracing::info!(name, "service owner died; entry removed");
            for cb in callbacks {
                notify(&cb, ON_REMOVAL, &name, None);
            }
        }
    }

    fn get(
        &self,
        name: &str,
        wait: Duration,
        ctx: &CallContext,
    ) -> Result<Option<SpIBinder>, Status> {
        self.check(Op::Find, ctx, name)?;
        let deadline = Instant::now() + wait;
        let mut st = self.state.lock();
        // The start of the declared service this getter waits for.
        let mut awaited = None;
        loop {
            if let Some(e) = st.registry.get(name) {
                return Ok(Some(e.object.clone()));
            }
            if !wait.is_zero() && st.activation.declared.contains_key(name) {
                let exit = st
                    .activation
                    .slots
                    .get(name)
                    .and_then(|s| s.last_exit.as_ref());
                // A lazy instance that was leaving as we asked simply gets a successor below;
                // an instance that died without registering fails this get.
                match (awaited, exit) {
                    (Some(a), Some(e)) if e.attempt == a && !e.registered => {
                        return Err(Status::new_exception(
                            ExceptionCode::ILLEGAL_STATE,
                            format!("{name} exited before registering ({})", e.status),
                        ));
                    }
                    _ => {}
                }
                let (attempt, child) = st
                    .activation
                    .ensure_started(name, &self.bus)
                    .map_err(|e| Status::new_exception(ExceptionCode::ILLEGAL_STATE, e))?;
                awaited = Some(attempt);
                if let Some(child) = child {
                    self.reap(name.to_owned(), attempt, child);
                }
            }
            if self.changed.wait_until(&mut st, deadline).timed_out() {
                return Ok(st.registry.get(name).map(|e| e.object.clone()));
            }
        }
    }

    /// Waits for a started service's process on a thread of its own and records its exit.
    fn reap(&self, name: String, attempt: u64, mut child: Child) {
        let me = self.me.clone();
        let spawned = std::thread::Builder::new()
            .name("afbus-reaper".into())
            .spawn(move || {
                let status = child
                    .wait()
                    .map_or_else(|e| e.to_string(), |s| s.to_string());
                tracing::info!(name, status, "declared service exited");
                if let Some(sm) = me.upgrade() {
                    sm.state.lock().activation.exited(&name, attempt, status);
                    sm.changed.notify_all();
                }
            });
        if let Err(e) = spawned {
            tracing::error!("cannot watch a started service's process: {e}");
        }
    }

    fn watch(&self, name: &str, callback: SpIBinder, ctx: &CallContext) -> Result<(), Status> {
        self.check(Op::Find, ctx, name)?;
        let current = {
            let mut st = self.state.lock();
            let entry = st.registry.watch(name, callback.clone()).map_err(|e| {
                Status::new_exception(ExceptionCode::ILLEGAL_ARGUMENT, e.to_string())
            })?;
            entry.map(|e| e.object.clone())
        };
        let me = self.me.clone();
        let _ = callback.link_to_death(Arc::new(move || {
            if let Some(sm) = me.upgrade() {
                sm.state
                    .lock()
                    .registry
                    .forget_callbacks_where(|c| !c.is_alive());
            }
        }));
        if let Some(service) = current {
            notify(&callback, ON_REGISTRATION, name, Some(&service));
        }
        Ok(())
    }
}

/// Tells a callback, one way; a callback whose process is gone is dropped by its death link.
fn notify(callback: &SpIBinder, code: TransactionCode, name: &str, service: Option<&SpIBinder>) {
    let mut p = Parcel::new();
    p.write_str(name);
    if let Some(s) = service {
        p.write_binder(s);
    }
    let _ = callback.transact_oneway_blocking(code, p);
}

/// The binder object that serves a [`ServiceManager`].
pub struct ServiceManagerObject(pub Arc<ServiceManager>);

impl Binder for ServiceManagerObject {
    fn descriptor(&self) -> &str {
        DESCRIPTOR
    }

    fn on_transact(
        &self,
        code: TransactionCode,
        data: &mut Parcel,
        reply: &mut Parcel,
        ctx: &CallContext,
    ) -> Result<(), Status> {
        let sm = &self.0;
        match code {
            GET_SERVICE => {
                let name = data.read_string()?;
                let wait_ms = data.read_i64()?.clamp(0, MAX_GET_WAIT_MS);
                let found = sm.get(&name, Duration::from_millis(wait_ms as u64), ctx)?;
                reply.write_nullable_binder(found.as_ref());
            }
            CHECK_SERVICE => {
                let name = data.read_string()?;
                reply.write_nullable_binder(sm.get(&name, Duration::ZERO, ctx)?.as_ref());
            }
            ADD_SERVICE => {
                let name = data.read_string()?;
                let service = data.read_binder()?;
                sm.add(&name, service, ctx)?;
            }
            LIST_SERVICES => {
                let names: Vec<String> = sm
                    .state
                    .lock()
                    .registry
                    .list()
                    .into_iter()
                    .filter(|n| {
                        sm.policy
                            .read()
                            .allows(Op::Find, ctx.caller.uid, ctx.caller.gid, n)
                    })
                    .collect();
                reply.write_slice(&names);
            }
            REGISTER_FOR_NOTIFICATIONS => {
                let name = data.read_string()?;
                sm.watch(&name, data.read_binder()?, ctx)?;
            }
            UNREGISTER_FOR_NOTIFICATIONS => {
                let name = data.read_string()?;
                let callback = data.read_binder()?;
                if !sm.state.lock().registry.unwatch(&name, &callback) {
                    return Err(StatusCode::NAME_NOT_FOUND.into());
                }
            }
            TRY_UNREGISTER_SERVICE => {
                let name = data.read_string()?;
                let service = data.read_binder()?;
                reply.write_bool(sm.try_unregister(&name, &service, ctx));
            }
            IS_DECLARED => {
                let name = data.read_string()?;
                sm.check(Op::Find, ctx, &name)?;
                reply.write_bool(sm.state.lock().activation.declared.contains_key(&name));
            }
            GET_SERVICE_DEBUG_INFO => {
                let st = sm.state.lock();
                let entries: Vec<_> = st.registry.entries().collect();
                reply.write_u32(entries.len() as u32);
                for (name, e) in entries {
                    reply.write_str(name);
                    reply.write_i32(e.owner.pid);
                    reply.write_u32(e.owner.uid);
                }
            }
            _ => return Err(StatusCode::UNKNOWN_TRANSACTION.into()),
        }
        Ok(())
    }
}
