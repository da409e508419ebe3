//! The reference and object tables: channels that stand for our objects, proxies to others'
//! and the counts behind `on_refs_changed` and `on_last_ref`.

use super::*;

impl RuntimeInner {
    /// A proxy this runtime holds to the remote object `id` names.
    pub(crate) fn held(&self, id: crate::object::ObjectId) -> Option<SpIBinder> {
        if id.runtime == self.id && id.pid == std::process::id() as i32 {
            return None;
        }
        let proxy = self
            .proxies
            .lock()
            .get(&(id.runtime, id.number, id.pid))?
            .upgrade()?;
        Some(SpIBinder(Kind::Remote(proxy)))
    }

    pub(super) fn arc(&self) -> Arc<RuntimeInner> {
        self.me
            .upgrade()
            .expect("the runtime is alive while it runs")
    }

    /// Makes `channel` a new reference to `obj` for process `holder`: introduces the object on
    /// it (a fresh key), counts the reference and watches the channel for calls. `holder_end`:
    /// the cookie of the other end, when we made the pair. A `spare` is minted ahead for a
    /// broker (`holder`) to hand on: charged as one and not counted until claimed (see
    /// [`spares`]).
    pub(super) fn serve_channel(
        &self,
        obj: &Arc<LocalObject>,
        channel: Channel,
        holder: i32,
        holder_end: Option<u64>,
        spare: bool,
    ) -> Result<()> {
        channel.set_pass_credentials(true)?;
        let key = crate::intro::new_key()?;
        crate::intro::send(&channel, obj.runtime_id, obj.number, key)?;
        let charge = if spare { Held::Spare } else { Held::Exported };
        self.peers.charge(holder, charge)?;
        // From here on, `conn_died` gives back everything taken for this reference.
        let token = self.next_token.fetch_add(1, Ordering::Relaxed);
        let mut conn = Conn::new(
            token,
            key,
            holder,
            channel,
            End::Owner(obj.clone()),
            self.senders.clone(),
        );
        conn.holder_end = holder_end;
        conn.spare = AtomicBool::new(spare);
        let conn = Arc::new(conn);
        self.keys.lock().insert(key, obj.clone());
        if let Some(end) = holder_end {
            self.homes.lock().insert(end, key);
            if spare {
                self.spares.lock().insert(end, conn.clone());
            }
        }
        if !spare {
            self.add_ref(obj);
        }
        self.conns.lock().insert(token, conn.clone());
        let ev = EpollEvent::new(EpollFlags::EPOLLIN | EpollFlags::EPOLLONESHOT, token);
        if let Err(e) = self.epoll.add(conn.chan.as_fd(), ev) {
            self.conn_died(&conn);
            return Err(os("epoll_ctl")(e));
        }
        Ok(())
    }

    /// Mints a new reference channel to a local object of this runtime, for process `to`.
    pub(super) fn export(&self, obj: &Arc<LocalObject>, to: i32) -> Result<OwnedFd> {
        self.reap_without_loopers();
        let (mine, theirs) = Channel::pair()?;
        let theirs = theirs.into_fd();
        let end = socket_id(&theirs)?;
        self.serve_channel(obj, mine, to, Some(end), false)?;
        Ok(theirs)
    }

    /// The local object a received socket stands for, if it is the holder's end of a reference
    /// we minted, come home.
    pub(super) fn home(&self, fd: &OwnedFd) -> Option<Arc<LocalObject>> {
        if self.homes.lock().is_empty() {
            // Nothing minted by us is out: no need to ask the kernel whose socket this is.
            return None;
        }
        let end = socket_id(fd).ok()?;
        let key = *self.homes.lock().get(&end)?;
        self.keys.lock().get(&key).cloned()
    }

    /// Turns a received reference channel into an object: ours again, a proxy we already have,
    /// or a new proxy on this channel. What it is comes from its owner's introduction, read here
    /// (see [`crate::intro`]); `maker` is the owner's pid as the kernel reported it (the maker
    /// of a minted channel, or the master's word for a brokered one), and `wait` how long the
    /// introduction may take (`None`: it must be there).
    pub(super) fn import(
        &self,
        channel: Channel,
        maker: i32,
        wait: Option<Duration>,
    ) -> Result<SpIBinder> {
        channel.set_shm(self.config.shm);
        let intro = crate::intro::recv(&channel, maker, wait)?;
        if intro.owner == self.id && intro.pid == std::process::id() as i32 {
            // Ours, come home: the key names the reference, and so the object.
            return match self.keys.lock().get(&intro.key) {
                Some(obj) if obj.number == intro.number => Ok(SpIBinder(Kind::Local(obj.clone()))),
                _ => Err(Error::new(
                    StatusCode::BAD_VALUE,
                    "a reference to an object we do not export",
                )),
            };
        }
        let mut proxies = self.proxies.lock();
        let key = (intro.owner, intro.number, intro.pid);
        let live = |p: &Arc<Proxy>| !p.death.lock().dead && !p.conn.chan.peer_hung_up();
        if let Some(existing) = proxies.get(&key).and_then(Weak::upgrade).filter(live) {
            // One channel per remote object: closing this one drops the extra reference. A
            // proxy whose object its owner took away (`Runtime::revoke`) is not reused.
            return Ok(SpIBinder(Kind::Remote(existing)));
        }
        self.peers.charge(intro.pid, Held::Imported)?;
        let token = self.next_token.fetch_add(1, Ordering::Relaxed);
        let proxy = Arc::new_cyclic(|me| Proxy {
            runtime: self.me.clone(),
            conn: Arc::new(Conn::new(
                token,
                intro.key,
                intro.pid,
                channel,
                End::Client(me.clone()),
                self.senders.clone(),
            )),
            target: 0,
            gives: 0.into(),
            owner: intro.owner,
            number: intro.number,
            owner_pid: intro.pid,
            // Only a channel handed to us by its owner (its introduction already waiting) has
            // a holder's end the owner knows; one the bus master made does not.
            minted: wait.is_none() && intro.pid == maker,
            wait_when_full: AtomicBool::new(false),
            refusal_logged: AtomicBool::new(false),
            death: Mutex::new(DeathState::default()),
            spares: Mutex::default(),
            descriptor: std::sync::OnceLock::new(),
        });
        proxies.insert(key, Arc::downgrade(&proxy));
        drop(proxies);
        proxy.conn.lock().links.proxies.push(Arc::downgrade(&proxy));
        self.conns.lock().insert(token, proxy.conn.clone());
        // No events asked for: epoll still reports the hang-up, once.
        let ev = EpollEvent::new(EpollFlags::EPOLLONESHOT, token);
        self.epoll
            .add(proxy.conn.chan.as_fd(), ev)
            .map_err(os("epoll_ctl"))?;
        Ok(SpIBinder(Kind::Remote(proxy)))
    }

    pub(crate) fn forget_proxy(&self, proxy: &Proxy) {
        let key = (proxy.owner, proxy.number, proxy.owner_pid);
        let mut proxies = self.proxies.lock();
        if proxies.get(&key).is_some_and(|w| w.strong_count() == 0) {
            proxies.remove(&key);
        }
        drop(proxies);
        if proxy.target == 0 {
            self.peers.refund(proxy.owner_pid, Held::Imported);
        }
        let gives = proxy.gives.load(Ordering::Relaxed);
        self.proxy_gone(&proxy.conn, proxy.target, gives);
    }

    /// Hands a channel back to the loopers after a reader let go of it: re-armed in epoll if
    /// its one-shot event fired meanwhile. True if, on shared memory, frames already wait in
    /// an owner end's ring (the peer rings the socket doorbell only for later ones): then the
    /// reader reads on or queues [`Work::Poll`].
    /// An owner end waits for calls; a client end only for its hang-up.
    pub(super) fn rearm(&self, conn: &Conn, st: &mut ConnState) -> bool {
        if st.dead {
            return false;
        }
        // An end that serves objects (an owner end, or one with objects given over it) waits
        // in epoll for what comes; any other gets frames only while a thread of ours waits on
        // it, and that thread reads them.
        // While a task awaits a reply on it, that task reads it (see `ConnState::awaited`),
        // when the socket is readable: on shared memory the ring stays parked for polling.
        let awaited = st.awaited();
        let serves = st.links.serves(&conn.end) && !awaited;
        if serves && st.paused != Paused::No {
            return false;
        }
        let pending = (serves || awaited) && conn.chan.park_poll();
        match (st.armed, serves) {
            (Armed::Spent, false) => self.arm(conn, st, Armed::HangUp),
            (Armed::Spent | Armed::HangUp, true) => self.arm(conn, st, Armed::In),
            _ => {}
        }
        pending
    }

    /// Arms `conn`'s one-shot registration in epoll for `what` (`Spent` if that fails).
    pub(super) fn arm(&self, conn: &Conn, st: &mut ConnState, what: Armed) {
        let events = match what {
            Armed::In => EpollFlags::EPOLLIN | EpollFlags::EPOLLONESHOT,
            Armed::HangUp | Armed::Spent => EpollFlags::EPOLLONESHOT,
        };
        let mut ev = EpollEvent::new(events, conn.token);
        st.armed = match self.epoll.modify(conn.chan.as_fd(), &mut ev) {
            Ok(()) => what,
            Err(_) => Armed::Spent,
        };
    }

    /// A channel hung up: fail its waiters, drop the reference it stood for, tell whoever
    /// asked. Runs once per channel.
    pub(super) fn conn_died(&self, conn: &Arc<Conn>) {
        conn.mark_dead();
        if self.conns.lock().remove(&conn.token).is_none() {
            return;
        }
        let _ = self.epoll.delete(conn.chan.as_fd());
        self.release_all(conn);
        let (proxies, own_released) = {
            let mut st = conn.lock();
            (std::mem::take(&mut st.links.proxies), st.links.own_released)
        };
        for p in proxies.iter().filter_map(Weak::upgrade) {
            p.died();
        }
        match &conn.end {
            End::Owner(obj) => {
                self.keys.lock().remove(&conn.key);
                if let Some(end) = conn.holder_end {
                    self.homes.lock().remove(&end);
                    self.spares.lock().remove(&end);
                }
                // Marked dead above: no claim changes it any more.
                let spare = conn.spare.load(Ordering::Relaxed);
                let charge = if spare { Held::Spare } else { Held::Exported };
                self.peers.refund(conn.peer(), charge);
                if conn.ring.load(Ordering::Relaxed) {
                    self.peers.refund(conn.peer(), Held::Ring);
                }
                if !own_released && !spare {
                    self.drop_ref(obj);
                }
            }
            End::Client(proxy) => {
                if let Some(p) = proxy.upgrade() {
                    p.died();
                }
            }
        }
    }

    /// Counts one more live reference to `obj` (a channel, or a give) and says so.
    pub(super) fn add_ref(&self, obj: &Arc<LocalObject>) {
        obj.change_refs(|n| Some(n + 1));
    }

    /// Counts one live reference to `obj` fewer and says so; `on_last_ref` at zero.
    pub(super) fn drop_ref(&self, obj: &Arc<LocalObject>) {
        obj.change_refs(|n| n.checked_sub(1));
    }
}
