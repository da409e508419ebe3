//! The IServiceManager object the daemon serves.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::process::Child;
use std::sync::Arc;
use std::time::{Duration, Instant};

use afbus_binder::{calling_context, CallContext, ExceptionCode, SpIBinder, Status, StatusCode};
use parking_lot::{Condvar, Mutex, MutexGuard, RwLock};

use crate::activation::{Activation, Declaration};
use crate::policy::{Op, Policy};
use crate::protocol::*;
use crate::registry::{AddError, Added, OnConflict, Owner, Registry, MAX_WATCHES_PER_UID};

/// The registry, the declared services and the policy behind IServiceManager.
pub struct ServiceManager {
    state: Mutex<State>,
    /// Getters waiting now.
    waiting: Mutex<Waiting>,
    changed: Condvar,
    policy: Arc<RwLock<Policy>>,
    bus: PathBuf,
    me: std::sync::Weak<ServiceManager>,
}

/// Getters of names not registered yet that may wait at once, over every uid but root and the
/// bus owner: half the daemon's threads, so that the services they wait for can still be
/// served. A get of a registered name never waits, and so never needs a place.
pub const MAX_WAITING_GETS: usize = crate::daemon::DAEMON_MAX_THREADS / 2;
/// Getters of one uid that may wait at once, so that one uid cannot take every place.
pub const MAX_WAITING_GETS_PER_UID: usize = 4;

/// Who waits in a get now.
#[derive(Default)]
struct Waiting {
    per_uid: HashMap<u32, usize>,
    /// Waiters other than root and the bus owner.
    others: usize,
}

/// A waiting getter's place, given back on drop.
struct WaitSlot<'a> {
    waiting: &'a Mutex<Waiting>,
    uid: u32,
    privileged: bool,
}

impl<'a> WaitSlot<'a> {
    fn take(
        waiting: &'a Mutex<Waiting>,
        uid: u32,
        privileged: bool,
    ) -> Result<WaitSlot<'a>, Status> {
        let mut w = waiting.lock();
        let mine = w.per_uid.get(&uid).copied().unwrap_or(0);
        let busy = |why: String| Err(Status::new_exception(ExceptionCode::ILLEGAL_STATE, why));
        if mine >= MAX_WAITING_GETS_PER_UID {
            return busy(format!(
                "uid {uid} has {mine} gets waiting (MAX_WAITING_GETS_PER_UID); try again"
            ));
        }
        if !privileged && w.others >= MAX_WAITING_GETS {
            return busy("too many getters are waiting (MAX_WAITING_GETS); try again".into());
        }
        *w.per_uid.entry(uid).or_insert(0) += 1;
        if !privileged {
            w.others += 1;
        }
        Ok(WaitSlot {
            waiting,
            uid,
            privileged,
        })
    }
}

impl Drop for WaitSlot<'_> {
    fn drop(&mut self) {
        let mut w = self.waiting.lock();
        if let Some(n) = w.per_uid.get_mut(&self.uid) {
            *n -= 1;
            if *n == 0 {
                w.per_uid.remove(&self.uid);
            }
        }
        if !self.privileged {
            w.others -= 1;
        }
    }
}

/// What one lock guards: registrations and the processes started to make them.
struct State {
    registry: Registry<SpIBinder, IServiceCallbackProxy>,
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
            waiting: Mutex::new(Waiting::default()),
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
            .allows(op, ctx.caller().uid, ctx.caller().gid, name)
        {
            Ok(())
        } else {
            Err(Status::new_exception(
                ExceptionCode::SECURITY,
                format!(
                    "uid {} may not {op} {name:?} (bus policy)",
                    ctx.caller().uid
                ),
            ))
        }
    }

    fn add(
        &self,
        name: &str,
        service: SpIBinder,
        on_conflict: OnConflict,
        ctx: &CallContext,
    ) -> Result<(), Status> {
        self.check(Op::Own, ctx, name).inspect_err(|e| {
            tracing::info!(
                name,
                pid = ctx.caller().pid,
                uid = ctx.caller().uid,
                "registration refused: {e}"
            )
        })?;
        // An entry whose owner died but is not reaped yet is no conflict: the kernel says so
        // (one poll) before a looper may have noticed.
        let stale = self
            .state
            .lock()
            .registry
            .get(name)
            .map(|e| e.object.clone());
        if let Some(stale) = stale.filter(|s| !s.is_alive()) {
            let id = stale.object_id();
            self.remove_where(|s| s.object_id() == id);
        }
        let owner = Owner {
            pid: ctx.caller().pid,
            uid: ctx.caller().uid,
        };
        let may_replace =
            ctx.caller().uid == 0 || ctx.caller().uid == self.policy.read().owner_uid();
        let (watched, callbacks) = {
            let mut st = self.state.lock();
            // One death link per object: a proxy is shared, so an object registered under many
            // names (or again) is watched once.
            let watched = st.registry.entries().any(|(_, e)| e.object == service);
            let (added, callbacks) = st
                .registry
                .add(
                    name,
                    service.clone(),
                    owner,
                    on_conflict,
                    may_replace,
                    self.policy.read().quota().services_per_uid,
                )
                .map_err(|e| {
                    tracing::info!(
                        name,
                        pid = owner.pid,
                        uid = owner.uid,
                        "registration refused: {e}"
                    );
                    let code = match e {
                        crate::registry::AddError::Registered { .. } => {
                            ExceptionCode::ILLEGAL_STATE
                        }
                        _ => ExceptionCode::ILLEGAL_ARGUMENT,
                    };
                    Status::new_exception(code, e.to_string())
                })?;
            match added {
                Added::New => tracing::info!(name, pid = owner.pid, uid = owner.uid, "registered"),
                Added::Again => {}
                Added::Replaced { old } => tracing::info!(
                    name,
                    pid = owner.pid,
                    uid = owner.uid,
                    old_pid = old.pid,
                    old_uid = old.uid,
                    "registration replaced; its watchers (the replaced owner among them, if it \
                     watches) are told"
                ),
            }
            st.activation.registered(name);
            (watched, callbacks)
        };
        let mut dead = false;
        if !watched {
            let me = self.me.clone();
            // The owner's exit removes its entries. The recipient holds no reference to the
            // service (that would keep its channel open for ever), only who it is.
            let id = service.object_id();
            let linked = service.link_to_death(Arc::new(move || {
                if let Some(sm) = me.upgrade() {
                    sm.remove_where(|s| s.object_id() == id);
                }
            }));
            dead = linked.is_err_and(|e| e.code() == StatusCode::DEAD_OBJECT);
        }
        self.changed.notify_all();
        self.tell(name, Some(&service), callbacks);
        // Dead already: no notice will come, so the entry goes now (after its registration was
        // told, so that watchers hear the two in order).
        if dead {
            let id = service.object_id();
            self.remove_where(|s| s.object_id() == id);
        }
        Ok(())
    }

    /// Tells `callbacks` (the name's watchers) that `name` now names `service` (or nothing),
    /// then those watching every name that may find and call it.
    fn tell(&self, name: &str, service: Option<&SpIBinder>, callbacks: Vec<IServiceCallbackProxy>) {
        for cb in callbacks {
            notify(&cb, name, service);
        }
        let everything = self.state.lock().registry.watching_all();
        if everything.is_empty() {
            return;
        }
        let allowed: Vec<_> = {
            let policy = self.policy.read();
            everything
                .into_iter()
                .filter(|(_, uid, gid)| {
                    policy.allows(Op::Find, *uid, *gid, name)
                        && policy.allows(Op::Call, *uid, *gid, name)
                })
                .map(|(cb, ..)| cb)
                .collect()
        };
        for cb in allowed {
            notify(&cb, name, service);
        }
    }

    /// Withdraws `name` if `service` is what it names and the caller is the process that
    /// registered it.
    fn try_unregister(&self, name: &str, service: &SpIBinder, ctx: &CallContext) -> bool {
        let callbacks = {
            let mut st = self.state.lock();
            let by_owner = st
                .registry
                .get(name)
                .is_some_and(|e| e.owner.pid == ctx.caller().pid);
            if !by_owner || !st.registry.remove_if_object(name, service) {
                return false;
            }
            st.registry.callbacks_of(name)
        };
        tracing::info!(name, "service unregistered itself");
        self.tell(name, None, callbacks);
        true
    }

    /// Removes the entries of an object whose owner died, telling their watchers.
    fn remove_where(&self, gone: impl Fn(&SpIBinder) -> bool) {
        let removed = self.state.lock().registry.remove_where(gone);
        for (name, callbacks) in removed {
            tracing::info!(name, "service owner died; entry removed");
            self.tell(&name, None, callbacks);
        }
    }

    fn get(
        &self,
        name: &str,
        wait: Duration,
        ctx: &CallContext,
    ) -> Result<Option<SpIBinder>, Status> {
        // To be handed a reference to the object, the caller must be allowed to call it too.
        self.check(Op::Find, ctx, name)?;
        self.check(Op::Call, ctx, name)?;
        let deadline = Instant::now() + wait;
        let mut st = self.state.lock();
        if let Some(e) = st.registry.get(name) {
            return Ok(Some(e.object.clone()));
        }
        if wait.is_zero() {
            return Ok(None);
        }
        // Each waiting getter holds a daemon thread: past its uid's share, or everyone's, a get
        // does not wait.
        let uid = ctx.caller().uid;
        let _waiting = {
            let privileged = uid == 0 || uid == self.policy.read().owner_uid();
            MutexGuard::unlocked(&mut st, || WaitSlot::take(&self.waiting, uid, privileged))?
        };
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

    /// Stops the processes started for declarations, as systemd stops a unit's: SIGTERM, then
    /// SIGKILL for those still running after `grace`. Returns once they have been reaped (or
    /// after a further `grace`, if a reaper cannot be waited for).
    pub fn stop_started(&self, grace: Duration) {
        use nix::sys::signal::{kill, Signal};
        use nix::unistd::Pid;
        let mut st = self.state.lock();
        for (signal, wait) in [(Signal::SIGTERM, grace), (Signal::SIGKILL, grace)] {
            let pids = st.activation.running_pids();
            if pids.is_empty() {
                return;
            }
            for pid in pids {
                tracing::info!(pid, ?signal, "stopping a started service");
                let _ = kill(Pid::from_raw(pid as i32), signal);
            }
            let deadline = Instant::now() + wait;
            while !st.activation.running_pids().is_empty() {
                if self.changed.wait_until(&mut st, deadline).timed_out() {
                    break;
                }
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

    fn watch(
        &self,
        name: &str,
        callback: IServiceCallbackProxy,
        ctx: &CallContext,
    ) -> Result<(), Status> {
        // A notice hands the watcher a reference: it must be allowed to call the service too.
        self.check(Op::Find, ctx, name)?;
        self.check(Op::Call, ctx, name)?;
        self.check_callback(&callback)?;
        let quota = self.watch_quota(ctx);
        let current = {
            let mut st = self.state.lock();
            let entry = st
                .registry
                .watch(name, callback.clone(), ctx.caller().uid, quota)
                .map_err(watch_refused)?;
            entry.map(|e| e.object.clone())
        };
        self.forget_when_gone(&callback);
        if let Some(service) = current {
            notify(&callback, name, Some(&service));
        }
        Ok(())
    }

    /// Every registration and removal from now on, of the names the caller may find and call
    /// (checked as each comes, so that a policy reload applies).
    fn watch_all(&self, callback: IServiceCallbackProxy, ctx: &CallContext) -> Result<(), Status> {
        self.check_callback(&callback)?;
        let quota = self.watch_quota(ctx);
        let (uid, gid) = (ctx.caller().uid, ctx.caller().gid);
        self.state
            .lock()
            .registry
            .watch_all(callback.clone(), uid, gid, quota)
            .map_err(watch_refused)?;
        self.forget_when_gone(&callback);
        Ok(())
    }

    /// The daemon calls a callback with its own identity (root, say): it must be a callback,
    /// not any object the caller holds a reference to (a confused deputy). Its runtime answers
    /// the descriptor; an owner that does not answer costs this call only.
    fn check_callback(&self, callback: &IServiceCallbackProxy) -> Result<(), Status> {
        let descriptor = callback
            .as_binder()
            .transact_timeout(
                afbus_binder::TransactionCode::INTERFACE,
                afbus_binder::Parcel::new(),
                crate::daemon::DAEMON_PEER_TIMEOUT,
            )
            .and_then(|mut reply| Ok(reply.read_string()?));
        match descriptor {
            Ok(d) if d == CALLBACK_DESCRIPTOR => Ok(()),
            Ok(d) => Err(Status::new_exception(
                ExceptionCode::ILLEGAL_ARGUMENT,
                format!("the callback is a {d}, not a {CALLBACK_DESCRIPTOR}"),
            )),
            Err(e) => Err(Status::from(e)),
        }
    }

    /// How many notification registrations the caller's uid may hold.
    fn watch_quota(&self, ctx: &CallContext) -> usize {
        let uid = ctx.caller().uid;
        if uid == 0 || uid == self.policy.read().owner_uid() {
            usize::MAX
        } else {
            MAX_WATCHES_PER_UID
        }
    }

    /// Drops `callback`'s registrations once its process is gone.
    fn forget_when_gone(&self, callback: &IServiceCallbackProxy) {
        let me = self.me.clone();
        let _ = callback.as_binder().link_to_death(Arc::new(move || {
            if let Some(sm) = me.upgrade() {
                sm.state
                    .lock()
                    .registry
                    .forget_callbacks_where(|c| !c.as_binder().is_alive());
            }
        }));
    }
}

fn watch_refused(e: AddError) -> Status {
    let exception = match e {
        AddError::WatchQuota(..) => ExceptionCode::ILLEGAL_STATE,
        _ => ExceptionCode::ILLEGAL_ARGUMENT,
    };
    Status::new_exception(exception, e.to_string())
}

/// Tells a callback, one way; a callback whose process is gone is dropped by its death link.
fn notify(callback: &IServiceCallbackProxy, name: &str, service: Option<&SpIBinder>) {
    let sent = match service {
        Some(s) => IServiceCallback::on_registration(callback, name, s),
        None => IServiceCallback::on_removal(callback, name),
    };
    match sent {
        Ok(()) => {}
        // Its holder is gone: the callback is forgotten on the next sweep.
        Err(e) if e.transaction_error() == StatusCode::DEAD_OBJECT => {}
        Err(e) => tracing::warn!(name, "a notification was not delivered: {e}"),
    }
}

/// Who is calling: every IServiceManager method runs inside a transaction.
fn caller() -> Result<CallContext, Status> {
    calling_context().ok_or_else(|| Status::from(StatusCode::INVALID_OPERATION))
}

/// The IServiceManager implementation over a [`ServiceManager`].
pub struct ServiceManagerObject(pub Arc<ServiceManager>);

impl IServiceManager for ServiceManagerObject {
    fn get_service(&self, name: &str, timeout_ms: i64) -> Result<Option<SpIBinder>, Status> {
        let wait = Duration::from_millis(timeout_ms.clamp(0, MAX_GET_WAIT_MS) as u64);
        self.0.get(name, wait, &caller()?)
    }

    fn check_service(&self, name: &str) -> Result<Option<SpIBinder>, Status> {
        self.0.get(name, Duration::ZERO, &caller()?)
    }

    fn add_service(&self, name: &str, service: &SpIBinder) -> Result<(), Status> {
        self.0
            .add(name, service.clone(), OnConflict::Refuse, &caller()?)
    }

    fn replace_service(&self, name: &str, service: &SpIBinder) -> Result<(), Status> {
        self.0
            .add(name, service.clone(), OnConflict::Replace, &caller()?)
    }

    fn list_services(&self) -> Result<Vec<String>, Status> {
        let ctx = caller()?;
        let names = self.0.state.lock().registry.list();
        let policy = self.0.policy.read();
        Ok(names
            .into_iter()
            .filter(|n| policy.allows(Op::Find, ctx.caller().uid, ctx.caller().gid, n))
            .collect())
    }

    fn register_for_notifications(
        &self,
        name: &str,
        callback: &IServiceCallbackProxy,
    ) -> Result<(), Status> {
        self.0.watch(name, callback.clone(), &caller()?)
    }

    fn unregister_for_notifications(
        &self,
        name: &str,
        callback: &IServiceCallbackProxy,
    ) -> Result<(), Status> {
        if self.0.state.lock().registry.unwatch(name, callback) {
            Ok(())
        } else {
            Err(StatusCode::NAME_NOT_FOUND.into())
        }
    }

    fn register_for_all_notifications(
        &self,
        callback: &IServiceCallbackProxy,
    ) -> Result<(), Status> {
        self.0.watch_all(callback.clone(), &caller()?)
    }

    fn unregister_for_all_notifications(
        &self,
        callback: &IServiceCallbackProxy,
    ) -> Result<(), Status> {
        if self.0.state.lock().registry.unwatch_all(callback) {
            Ok(())
        } else {
            Err(StatusCode::NAME_NOT_FOUND.into())
        }
    }

    fn is_declared(&self, name: &str) -> Result<bool, Status> {
        self.0.check(Op::Find, &caller()?, name)?;
        Ok(self.0.state.lock().activation.declared.contains_key(name))
    }

    fn list_declared(&self) -> Result<Vec<String>, Status> {
        let ctx = caller()?;
        let st = self.0.state.lock();
        let policy = self.0.policy.read();
        Ok(st
            .activation
            .declared
            .keys()
            .filter(|name| policy.allows(Op::Find, ctx.caller().uid, ctx.caller().gid, name))
            .cloned()
            .collect())
    }

    fn get_service_debug_info(&self) -> Result<Vec<ServiceDebugInfo>, Status> {
        let ctx = caller()?;
        let st = self.0.state.lock();
        let policy = self.0.policy.read();
        Ok(st
            .registry
            .entries()
            .filter(|(name, _)| policy.allows(Op::Find, ctx.caller().uid, ctx.caller().gid, name))
            .map(|(name, e)| ServiceDebugInfo {
                name: name.to_owned(),
                pid: e.owner.pid,
                uid: e.owner.uid as i32,
            })
            .collect())
    }

    fn try_unregister_service(&self, name: &str, service: &SpIBinder) -> Result<bool, Status> {
        Ok(self.0.try_unregister(name, service, &caller()?))
    }

    fn identify_service(&self, name: &str) -> Result<Vec<i64>, Status> {
        // The same checks as a get: only a caller that may get it learns who it is.
        Ok(match self.0.get(name, Duration::ZERO, &caller()?) {
            Ok(Some(service)) => {
                let id = service.object_id();
                vec![id.runtime as i64, id.number as i64, i64::from(id.pid)]
            }
            _ => Vec::new(),
        })
    }
}
