//! References minted ahead. A broker (the service manager) that passes a proxy on to third
//! processes would otherwise ask the object's owner to mint each reference while the getter
//! waits: a round trip to a third process, a socketpair and an introduction on every get.
//! With [`RuntimeConfig::mint_ahead`] it keeps a few spare references minted by the owner in
//! advance, hands one over at once, and tells the owner afterwards, with the next batch of
//! spares, whom it went to. That background work is done by one thread per broker, the
//! *minter*, at the default priority, queued once the frame that passed a spare on is sent (a
//! minter at the lowest priority was starved on a busy machine, keeping what it queued alive
//! and its owners' counts late). Its queue holds proxies weakly: a proxy dropped meanwhile is
//! not kept for it.
//!
//! On the owner's side a spare is an ordinary reference channel, introduced and watched, but
//! not yet a reference: it is charged to the broker as [`Held::Spare`] (at most
//! [`MAX_SPARES_PER_PEER`](crate::MAX_SPARES_PER_PEER)) and not counted by `on_refs_changed`
//! until it is *claimed*, by whichever comes first: the broker's word (trusted only from root
//! or this process's uid, as MINT's is), or the first frame its holder sends, which the kernel
//! stamps with the holder's pid. A claim charges the holder as any reference is charged; a
//! holder past its bound has the channel shut down. A spare that hangs up unclaimed (the
//! broker dropped it, or died) gives its charge back and never was a reference.

use super::*;

/// Spare references a broker keeps per proxy it passes on.
pub const MINT_AHEAD_BATCH: usize = 8;

/// How long a broker mints on demand after an owner failed a MINT_AHEAD (it did not answer
/// within the mint timeout, or refused), before it asks again: a busy owner gets its spares
/// back, a mute one costs the minter one timeout per this.
pub const MINT_AHEAD_RETRY: Duration = Duration::from_secs(5);

/// The most spares one MINT_AHEAD asks for, and the most claims it carries.
const MAX_PER_MINT_AHEAD: usize = 64;

/// The most spare references a broker keeps in all (an fd each, here and at their owners):
/// past it, objects it passes on for the first time are minted on demand.
pub const MAX_SPARES_HELD: usize = 1024;

/// A broker's spare references to one remote object, and what its owner has yet to hear.
#[derive(Default)]
pub(crate) struct Spares {
    /// Holder ends minted by the owner, each with its socket's cookie.
    ready: Vec<(OwnedFd, u64)>,
    /// Spares handed on: (cookie, pid of the process they went to).
    claims: Vec<(u64, i32)>,
    /// A thread is minting or telling now.
    busy: bool,
    /// The owner failed a MINT_AHEAD (it did not answer in time, say, all its threads busy):
    /// mint on demand until then.
    retry_at: Option<Instant>,
    /// The broker's count of the spares it holds, which `ready` is part of.
    held: Option<Arc<AtomicUsize>>,
}

impl Drop for Spares {
    fn drop(&mut self) {
        if let Some(held) = &self.held {
            held.fetch_sub(self.ready.len(), Ordering::Relaxed);
        }
    }
}

impl RuntimeInner {
    /// A spare reference to `proxy`'s object for process `to`, if one is ready (`None`: mint
    /// on demand). The owner hears whom it went to once the frame carrying it is sent
    /// ([`Self::mint_ahead_after`]).
    pub(super) fn take_spare(&self, proxy: &Proxy, to: i32) -> Option<OwnedFd> {
        if self.config.mint_ahead == 0 || proxy.death.lock().dead {
            return None;
        }
        let mut spares = proxy.spares.lock();
        let (fd, cookie) = spares.ready.pop()?;
        spares.claims.push((cookie, to));
        self.spares_held.fetch_sub(1, Ordering::Relaxed);
        Some(fd)
    }

    /// After a frame carrying `objects` is sent: each proxy passed on with spares to tell of or
    /// to mint goes to the minter. Not before the frame is sent, so that the work never delays
    /// the frame it follows.
    pub(super) fn mint_ahead_after(&self, objects: &[SpIBinder]) {
        if self.config.mint_ahead == 0 {
            return;
        }
        for o in objects {
            let Kind::Remote(proxy) = &o.0 else { continue };
            let mut spares = proxy.spares.lock();
            let low = spares.ready.len() <= self.config.mint_ahead / 2;
            let resting = spares.retry_at.is_some_and(|at| Instant::now() < at);
            let start = !spares.busy && !resting && (low || !spares.claims.is_empty());
            spares.busy |= start;
            drop(spares);
            if start {
                self.minter.queue.lock().push_back(Arc::downgrade(proxy));
                self.minter.wake.notify_one();
                if !self.minter.started.swap(true, Ordering::SeqCst) {
                    let rt = self.me.clone();
                    let thread = std::thread::Builder::new().name("afbus-minter".into());
                    if thread.spawn(move || minter(rt)).is_err() {
                        self.minter.started.store(false, Ordering::SeqCst);
                    }
                }
            }
        }
    }

    /// Tells `proxy`'s owner whom spares went to and tops the pool up, until there is nothing
    /// to tell and the pool is at least half full.
    pub(super) fn mint_ahead(self: &Arc<Self>, proxy: &Proxy) {
        let want = self.config.mint_ahead.min(MAX_PER_MINT_AHEAD);
        loop {
            let (claims, count) = {
                let mut spares = proxy.spares.lock();
                let have = spares.ready.len();
                let room = MAX_SPARES_HELD.saturating_sub(self.spares_held.load(Ordering::Relaxed));
                let count = if have <= want / 2 { want - have } else { 0 }.min(room);
                let n = spares.claims.len().min(MAX_PER_MINT_AHEAD);
                let claims: Vec<_> = spares.claims.drain(..n).collect();
                if claims.is_empty() && count == 0 {
                    spares.busy = false;
                    return;
                }
                (claims, count)
            };
            let mut data = Parcel::new();
            data.write_u32(claims.len() as u32);
            for (cookie, pid) in &claims {
                data.write_u64(*cookie);
                data.write_i32(*pid);
            }
            data.write_u32(count as u32);
            let minted = self
                .call(
                    proxy,
                    TransactionCode::MINT_AHEAD,
                    data,
                    Some(self.config.mint_timeout),
                )
                .and_then(|mut reply| read_spares(&mut reply));
            let mut spares = proxy.spares.lock();
            match minted {
                Ok(more) => {
                    let short = more.len() < count;
                    self.spares_held.fetch_add(more.len(), Ordering::Relaxed);
                    spares.held = Some(self.spares_held.clone());
                    spares.ready.extend(more);
                    // The owner is at its bound for us (or will not say why): no more this
                    // round; the next object passed on tries again.
                    if short {
                        spares.busy = false;
                        return;
                    }
                }
                Err(e) => {
                    tracing::debug!(owner_pid = proxy.owner_pid, "mint ahead failed: {e}");
                    spares.retry_at = Some(Instant::now() + MINT_AHEAD_RETRY);
                    spares.busy = false;
                    spares.claims.clear();
                    return;
                }
            }
        }
    }

    /// The owner's side of MINT_AHEAD from `broker` (its pid as the kernel gave it): claims
    /// first (if the broker may vouch for whom its spares went to), then up to the count asked
    /// for of new spares, charged to the broker, as many as its bound allows.
    pub(super) fn serve_mint_ahead(
        &self,
        obj: &Arc<LocalObject>,
        ctx: &CallContext,
        data: &mut Parcel,
        reply: &mut Parcel,
    ) -> std::result::Result<(), Status> {
        let broker = ctx.caller.sent_pid();
        let me = nix::unistd::geteuid().as_raw();
        let uid = ctx.caller().uid;
        let trusted = uid == 0 || uid == me;
        let claims = data.read_u32()? as usize;
        if claims > MAX_PER_MINT_AHEAD {
            return Err(Status::new_exception(
                crate::status::ExceptionCode::ILLEGAL_ARGUMENT,
                format!("{claims} claims in one MINT_AHEAD (at most {MAX_PER_MINT_AHEAD})"),
            ));
        }
        for _ in 0..claims {
            let cookie = data.read_u64()?;
            let pid = data.read_i32()?;
            let spare = self.spares.lock().get(&cookie).cloned();
            // A broker may only say whom its own spares went to.
            if let Some(conn) = spare.filter(|c| trusted && c.peer() == broker && pid > 0) {
                self.claim(&conn, pid);
            }
        }
        let count = (data.read_u32()? as usize).min(MAX_PER_MINT_AHEAD);
        let mut minted = Vec::with_capacity(count);
        for _ in 0..count {
            match self.export_spare(obj, broker) {
                Ok(spare) => minted.push(spare),
                Err(_) if !minted.is_empty() => break,
                Err(e) => return Err(e.into()),
            }
        }
        reply.write_u32(minted.len() as u32);
        for (fd, cookie) in minted {
            reply.write_fd(fd);
            reply.write_u64(cookie);
        }
        Ok(())
    }

    /// Mints a spare reference channel to `obj` for `broker` to hand on.
    fn export_spare(&self, obj: &Arc<LocalObject>, broker: i32) -> Result<(OwnedFd, u64)> {
        self.reap_without_loopers();
        let (mine, theirs) = Channel::pair()?;
        let theirs = theirs.into_fd();
        let cookie = socket_id(&theirs)?;
        self.serve_channel(obj, mine, broker, Some(cookie), true)?;
        Ok((theirs, cookie))
    }

    /// Makes the spare `conn` a reference held by `pid`: charged to it instead of the broker,
    /// and counted. A holder past its bound has the channel closed (it hears a hang-up).
    pub(super) fn claim(&self, conn: &Arc<Conn>, pid: i32) {
        let End::Owner(obj) = &conn.end else { return };
        let st = conn.lock();
        if st.dead || !conn.spare.load(Ordering::Relaxed) {
            return;
        }
        if let Some(cookie) = conn.holder_end {
            self.spares.lock().remove(&cookie);
        }
        if let Err(e) = self.peers.charge(pid, Held::Exported) {
            drop(st);
            tracing::debug!(pid, "a spare reference refused to its holder: {e}");
            return self.conn_died(conn);
        }
        self.peers.refund(conn.peer(), Held::Spare);
        conn.set_peer(pid);
        conn.spare.store(false, Ordering::Relaxed);
        // A holder that let the channel's object go before the claim holds nothing to count.
        let counted = !st.links.own_released;
        drop(st);
        if counted {
            self.add_ref(obj);
        }
    }
}

/// The minter's queue: proxies with spares to tell of or to mint.
#[derive(Default)]
pub(crate) struct Minter {
    queue: Mutex<VecDeque<Weak<Proxy>>>,
    wake: parking_lot::Condvar,
    started: AtomicBool,
}

impl Minter {
    /// Wakes the minter to see that its runtime stops.
    pub(super) fn wake_to_stop(&self) {
        let _queue = self.queue.lock();
        self.wake.notify_all();
    }
}

/// How often an idle minter looks whether its runtime is gone.
const MINTER_IDLE_CHECK: Duration = Duration::from_millis(500);

/// The minter thread: takes the default priority (not whatever its spawner ran a call at),
/// then serves the queue until the runtime stops.
fn minter(rt: Weak<RuntimeInner>) {
    if let Err(e) = Priority::DEFAULT.apply() {
        tracing::debug!("the minter runs at its spawner's priority: {e}");
    }
    loop {
        let Some(rt) = rt.upgrade() else { return };
        if rt.stopping.load(Ordering::SeqCst) {
            return;
        }
        let next = {
            let mut queue = rt.minter.queue.lock();
            if queue.is_empty() {
                rt.minter.wake.wait_for(&mut queue, MINTER_IDLE_CHECK);
            }
            queue.pop_front()
        };
        if let Some(proxy) = next.and_then(|p| p.upgrade()) {
            rt.mint_ahead(&proxy);
        }
    }
}

/// The spares in a MINT_AHEAD reply.
fn read_spares(reply: &mut Parcel) -> Result<Vec<(OwnedFd, u64)>> {
    let n = reply.read_u32()? as usize;
    if n > MAX_PER_MINT_AHEAD {
        return Err(Error::new(
            StatusCode::BAD_VALUE,
            format!("{n} spares in one MINT_AHEAD reply (at most {MAX_PER_MINT_AHEAD})"),
        ));
    }
    (0..n)
        .map(|_| Ok((reply.take_fd()?, reply.read_u64()?)))
        .collect()
}
