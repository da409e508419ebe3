//! The IServiceManager object the daemon serves.

use std::sync::Arc;
use std::time::{Duration, Instant};

use afbus_binder::{
    Binder, CallContext, ExceptionCode, Parcel, SpIBinder, Status, StatusCode, TransactionCode,
};
use parking_lot::{Condvar, Mutex, RwLock};

use crate::policy::{Op, Policy};
use crate::protocol::*;
use crate::registry::{Owner, Registry};

/// The registry and the policy behind IServiceManager.
pub struct ServiceManager {
    registry: Mutex<Registry<SpIBinder, SpIBinder>>,
    changed: Condvar,
    policy: Arc<RwLock<Policy>>,
    me: std::sync::Weak<ServiceManager>,
}

impl ServiceManager {
    /// A registry governed by `policy` (shared with the bus master, replaced on reload).
    pub fn new(policy: Arc<RwLock<Policy>>) -> Arc<ServiceManager> {
        Arc::new_cyclic(|me| ServiceManager {
            registry: Mutex::new(Registry::default()),
            changed: Condvar::new(),
            policy,
            me: me.clone(),
        })
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
        let (_, callbacks) = self
            .registry
            .lock()
            .add(name, service.clone(), owner, may_replace)
            .map_err(|e| Status::new_exception(ExceptionCode::ILLEGAL_ARGUMENT, e.to_string()))?;
        let me = self.me.clone();
        let dead = service.clone();
        // The owner's exit removes its entries. A local object (in the daemon) never dies.
        let _ = service.link_to_death(Arc::new(move || {
            if let Some(sm) = me.upgrade() {
                sm.remove(&dead);
            }
        }));
        self.changed.notify_all();
        for cb in callbacks {
            notify(&cb, ON_REGISTRATION, name, Some(&service));
        }
        Ok(())
    }

    fn remove(&self, service: &SpIBinder) {
        let removed = self.registry.lock().remove_object(service);
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
        let mut registry = self.registry.lock();
        loop {
            if let Some(e) = registry.get(name) {
                return Ok(Some(e.object.clone()));
            }
            if self.changed.wait_until(&mut registry, deadline).timed_out() {
                return Ok(registry.get(name).map(|e| e.object.clone()));
            }
        }
    }

    fn watch(&self, name: &str, callback: SpIBinder, ctx: &CallContext) -> Result<(), Status> {
        self.check(Op::Find, ctx, name)?;
        let current = {
            let mut registry = self.registry.lock();
            let entry = registry.watch(name, callback.clone()).map_err(|e| {
                Status::new_exception(ExceptionCode::ILLEGAL_ARGUMENT, e.to_string())
            })?;
            entry.map(|e| e.object.clone())
        };
        let me = self.me.clone();
        let dead = callback.clone();
        let _ = callback.link_to_death(Arc::new(move || {
            if let Some(sm) = me.upgrade() {
                sm.registry.lock().forget_callback(&dead);
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
                    .registry
                    .lock()
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
                if !sm.registry.lock().unwatch(&name, &callback) {
                    return Err(StatusCode::NAME_NOT_FOUND.into());
                }
            }
            GET_SERVICE_DEBUG_INFO => {
                let registry = sm.registry.lock();
                let entries: Vec<_> = registry.entries().collect();
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
