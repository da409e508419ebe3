//! Objects given over a channel: references that cost a table entry, not a socket.
//!
//! Every reference channel links two processes, and either may pass its own objects to the
//! other over it: the object is *given* on that channel under a fresh random key (the giver's
//! `keys` entry, as a channel's own key is), the frame's object table says `GIVEN`, and the
//! receiver's proxy calls it on the same channel naming that key. Giving an object again over
//! the same channel reuses its key and counts one more give; the receiver counts the gives it
//! took and sends `RELEASE` with that count when its proxy goes, and the giver drops the object
//! when every give is released. If the channel hangs up (the peer exited or was killed), every
//! give over it is released at once: the kernel still tells the giver, without a message.
//!
//! An object going back to its owner over the channel it was given on (or the channel's own
//! object, over itself) travels as `HOME` with its key: no fd, and the owner accepts only a key
//! given over that very channel. A give and its uses travel on one channel, and a frame's
//! `HOME` entries and target are looked up as it is read (see [`crate::conn::Incoming`]), so a
//! `RELEASE` read after a frame that used the key cannot take the object from under it.

use std::os::fd::AsFd;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use afbus_transport::{FrameKind, Header};

use super::{RuntimeInner, RELEASE_DELAY};
use crate::call::{encode_release, WireObject};
use crate::conn::{Armed, Conn, End, Work};
use crate::object::{Kind, LocalObject, Proxy, SpIBinder, TransactionCode, ONEWAY_ROOM_WAIT};
use crate::peers::Held;
use crate::status::{Error, Result, StatusCode};

impl RuntimeInner {
    /// Gives `obj` over `conn` (once more, if it is given there already); its entry in the
    /// frame's object table.
    pub(super) fn give(&self, conn: &Arc<Conn>, obj: &Arc<LocalObject>) -> Result<WireObject> {
        let entry = |key| WireObject::Given {
            key,
            number: obj.number,
            owner: self.id,
        };
        let mut st = conn.lock();
        if st.dead {
            return Err(Error::new(StatusCode::DEAD_OBJECT, "the channel hung up"));
        }
        if let Some(&key) = st.links.key_of.get(&obj.number) {
            if let Some((_, gives)) = st.links.given.get_mut(&key) {
                *gives = gives.saturating_add(1);
                return Ok(entry(key));
            }
        }
        self.peers.charge(conn.peer(), Held::Given)?;
        let key = crate::intro::new_key()?;
        let first = st.links.given.is_empty();
        st.links.given.insert(key, (obj.clone(), 1));
        st.links.key_of.insert(obj.number, key);
        // A client end that now serves an object is watched for calls, not only its hang-up,
        // and on shared memory the peer is to ring the socket doorbell for what it writes (a
        // thread reading the channel now does both when it lets go: see `rearm`).
        let mut pending = false;
        if first
            && matches!(conn.end, End::Client(_))
            && st.armed != Armed::Spent
            && !st.is_reading()
        {
            self.arm(conn, &mut st, Armed::In);
            pending = conn.chan.park_poll();
        }
        drop(st);
        if pending {
            self.queue_work(conn, Work::Poll);
        }
        self.keys.lock().insert(key, obj.clone());
        self.add_ref(obj);
        Ok(entry(key))
    }

    /// The peer let go of `count` gives of the object under `key` on `conn` (key 0: the
    /// channel's own object, which the holder keeps the channel for other gives without).
    pub(super) fn release(&self, conn: &Arc<Conn>, key: u64, count: u32) {
        if count == 0 {
            return;
        }
        // An unclaimed spare's own object was never counted (see `spares`): read under the
        // lock a claim takes.
        let (obj, counted) = {
            let mut st = conn.lock();
            if key == 0 {
                match &conn.end {
                    End::Owner(obj) if !st.links.own_released && !st.dead => {
                        st.links.own_released = true;
                        (obj.clone(), !conn.spare.load(Ordering::Relaxed))
                    }
                    _ => return,
                }
            } else {
                let Some((obj, gives)) = st.links.given.get_mut(&key) else {
                    return;
                };
                *gives = gives.saturating_sub(count);
                if *gives > 0 {
                    return;
                }
                let obj = obj.clone();
                st.links.given.remove(&key);
                st.links.key_of.remove(&obj.number);
                (obj, true)
            }
        };
        self.keys
            .lock()
            .remove(&if key == 0 { conn.key } else { key });
        if key != 0 {
            self.peers.refund(conn.peer(), Held::Given);
        }
        if counted {
            self.drop_ref(&obj);
        }
        self.close_if_unused(conn);
    }

    /// A channel hung up: everything given over it is released.
    pub(super) fn release_all(&self, conn: &Arc<Conn>) {
        let given: Vec<_> = {
            let mut st = conn.lock();
            st.links.key_of.clear();
            st.links.given.drain().collect()
        };
        for (key, (obj, _)) in given {
            self.keys.lock().remove(&key);
            self.peers.refund(conn.peer(), Held::Given);
            self.drop_ref(&obj);
        }
    }

    /// An object given to us over `conn`: a proxy that calls it there (or the one we have).
    pub(super) fn receive_give(
        &self,
        conn: &Arc<Conn>,
        key: u64,
        number: u64,
        owner: u64,
    ) -> Result<SpIBinder> {
        let mut proxies = self.proxies.lock();
        let id = (owner, number, conn.peer());
        if let Some(existing) = proxies.get(&id).and_then(std::sync::Weak::upgrade) {
            drop(proxies);
            if Arc::ptr_eq(&existing.conn, conn) && existing.target == key {
                existing.gives.fetch_add(1, Ordering::Relaxed);
            } else {
                // We reach it another way already: this give is not needed.
                self.send_release(conn, key, 1);
            }
            return Ok(SpIBinder(Kind::Remote(existing)));
        }
        if let Err(e) = self.peers.charge(conn.peer(), Held::Received) {
            drop(proxies);
            self.send_release(conn, key, 1);
            return Err(e);
        }
        let proxy = Arc::new(Proxy {
            runtime: self.me.clone(),
            conn: conn.clone(),
            target: key,
            gives: 1.into(),
            owner,
            number,
            owner_pid: conn.peer(),
            minted: false,
            wait_when_full: false.into(),
            refusal_logged: false.into(),
            death: Default::default(),
            spares: Default::default(),
            descriptor: std::sync::OnceLock::new(),
        });
        proxies.insert(id, Arc::downgrade(&proxy));
        drop(proxies);
        conn.lock().links.proxies.push(Arc::downgrade(&proxy));
        Ok(SpIBinder(Kind::Remote(proxy)))
    }

    /// A proxy that calls through `conn` is gone: release what it was given, and close the
    /// channel once nothing uses it. `target` and `gives` are the proxy's.
    pub(super) fn proxy_gone(&self, conn: &Arc<Conn>, target: u64, gives: u32) {
        if target != 0 {
            self.peers.refund(conn.peer(), Held::Received);
            if gives > 0 {
                self.send_release(conn, target, gives);
            }
        }
        let (unused, own_kept) = {
            let mut st = conn.lock();
            st.links.proxies.retain(|p| p.strong_count() > 0);
            let unused = st.links.proxies.is_empty() && st.links.given.is_empty();
            (unused, target == 0 && !unused && !st.dead)
        };
        if own_kept {
            // The channel stays for other objects: its owner hears of this one by message.
            self.send_release(conn, 0, 1);
        }
        if unused {
            self.close_if_unused(conn);
        }
    }

    /// Stops watching a client end that no proxy uses and nothing is given over: dropping the
    /// last handle on it closes the socket, which its owner sees as the reference gone.
    fn close_if_unused(&self, conn: &Arc<Conn>) {
        if !matches!(conn.end, End::Client(_)) {
            return;
        }
        {
            let mut st = conn.lock();
            st.links.proxies.retain(|p| p.strong_count() > 0);
            if !st.links.proxies.is_empty() || !st.links.given.is_empty() {
                return;
            }
        }
        if self.conns.lock().remove(&conn.token).is_some() {
            let _ = self.epoll.delete(conn.chan.as_fd());
        }
    }

    /// Lets the peer know, soon, that we let go of `count` gives of `key` on `conn`: before
    /// the next frame we send on `conn`, or within [`RELEASE_DELAY`] (a runtime with no
    /// loopers, which would never hear the timer, sends at once). A frame of ours that names
    /// the key again comes after the release, so the peer counts it right.
    fn send_release(&self, conn: &Arc<Conn>, key: u64, count: u32) {
        if self.loopers.load(Ordering::SeqCst) == 0 {
            let deadline = Instant::now() + ONEWAY_ROOM_WAIT;
            if !self.try_release(conn, key, count, Some(deadline)) {
                self.release_later(conn, key, count);
            }
            return;
        }
        self.release_later(conn, key, count);
    }

    /// Puts a release of `count` gives of `key` on `conn`'s waiting list (see
    /// [`Self::send_release`]). A peer that gives us more distinct objects over one channel
    /// than [`MAX_GIVEN_PER_PEER`](crate::MAX_GIVEN_PER_PEER) while reading none of our
    /// releases is hung up on.
    fn release_later(&self, conn: &Arc<Conn>, key: u64, count: u32) {
        let first = {
            let mut st = conn.lock();
            if st.dead {
                return;
            }
            let n = st.releases.entry(key).or_default();
            *n = n.saturating_add(count);
            if st.releases.len() > crate::MAX_GIVEN_PER_PEER {
                drop(st);
                tracing::warn!(
                    pid = conn.peer(),
                    "hung up on a peer that gives objects and reads none of their releases"
                );
                return self.conn_died(conn);
            }
            !conn.releases_due.swap(true, Ordering::Relaxed)
        };
        if first {
            self.releases_due.lock().push(Arc::downgrade(conn));
            self.arm_release_timer();
        }
    }

    /// Makes the release timer fire [`RELEASE_DELAY`] from now, unless it is set already.
    pub(super) fn arm_release_timer(&self) {
        if !self.release_timer_armed.swap(true, Ordering::SeqCst) {
            let delay = nix::sys::time::TimeSpec::from_duration(RELEASE_DELAY);
            let _ = self.release_timer.set(
                nix::sys::timerfd::Expiration::OneShot(delay),
                nix::sys::timerfd::TimerSetTimeFlags::empty(),
            );
        }
    }

    /// Sends the releases waiting on `conn` (before a frame of ours goes on it).
    pub(super) fn flush_releases(&self, conn: &Arc<Conn>) {
        self.send_waiting_releases(conn, true);
    }

    /// Sends the releases waiting on `conn`; `wait`: for room, up to [`ONEWAY_ROOM_WAIT`] in
    /// all. Once one finds no room, the rest wait with it for the next try.
    fn send_waiting_releases(&self, conn: &Arc<Conn>, wait: bool) {
        if !conn.releases_due.load(Ordering::Relaxed) {
            return;
        }
        let releases = {
            let mut st = conn.lock();
            conn.releases_due.store(false, Ordering::Relaxed);
            std::mem::take(&mut st.releases)
        };
        let deadline = wait.then(|| Instant::now() + ONEWAY_ROOM_WAIT);
        let mut left = releases.into_iter();
        for (key, count) in left.by_ref() {
            if !self.try_release(conn, key, count, deadline) {
                self.release_later(conn, key, count);
                break;
            }
        }
        for (key, count) in left {
            self.release_later(conn, key, count);
        }
    }

    /// The release timer fired: every channel's waiting releases go now.
    pub(super) fn flush_all_releases(&self) {
        // Several loopers may wake for one expiry: the one that reads it flushes.
        if self.release_timer.wait().is_err() {
            return;
        }
        self.release_timer_armed.store(false, Ordering::SeqCst);
        #[cfg(feature = "tokio")]
        self.watch_quiet_again();
        let due = std::mem::take(&mut *self.releases_due.lock());
        // A looper never waits for room here: a channel still full is tried again later.
        for conn in due.iter().filter_map(std::sync::Weak::upgrade) {
            self.send_waiting_releases(&conn, false);
        }
    }

    /// Sends `RELEASE` for `count` gives of `key` on `conn`, waiting for room until `deadline`
    /// (`None`: not at all); false if the channel had none (the caller keeps the release).
    fn try_release(
        &self,
        conn: &Arc<Conn>,
        key: u64,
        count: u32,
        deadline: Option<Instant>,
    ) -> bool {
        if conn.lock().dead {
            return true;
        }
        let header = Header::new(FrameKind::OneWay).with_code(TransactionCode::RELEASE.0);
        let payload = encode_release(key, count);
        let sent = match deadline {
            Some(d) => conn.chan.send_until(&header, &payload, &[], Some(d)),
            None => conn.chan.try_send(&header, &payload, &[]),
        };
        match sent {
            Ok(()) => true,
            Err(afbus_transport::Error::WouldBlock | afbus_transport::Error::TimedOut) => false,
            Err(e) => {
                tracing::debug!(key, count, "a release was not sent: {e}");
                true
            }
        }
    }
}
