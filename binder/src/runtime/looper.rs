//! The thread pool: loopers waiting in epoll, and what they do with a channel that woke them.

use super::*;

impl RuntimeInner {
    /// Spawns a looper if `first`, or if every looper is busy and the pool may grow.
    pub(super) fn maybe_spawn(&self, first: bool) {
        if !first && self.idle.load(Ordering::SeqCst) > 0 {
            return;
        }
        let mut spawned = self.spawned.lock();
        if (first && *spawned > 0)
            || *spawned >= self.config.max_threads
            || self.stopping.load(Ordering::SeqCst)
        {
            return;
        }
        *spawned += 1;
        drop(spawned);
        let rt = self.arc();
        let thread = std::thread::Builder::new().name("afbus-looper".into());
        if thread.spawn(move || rt.looper()).is_err() {
            *self.spawned.lock() -= 1;
        }
    }

    pub(super) fn looper(self: &Arc<Self>) {
        if let Some(ceiling) = self.config.priority_ceiling {
            let taken = crate::priority::take_ceiling(ceiling);
            if let (Err(e), false) = (taken, self.ceiling_warned.swap(true, Ordering::Relaxed)) {
                tracing::warn!(
                    ?ceiling,
                    "loopers wait at their own priority, not the ceiling: {e}"
                );
            }
        }
        self.loopers.fetch_add(1, Ordering::SeqCst);
        self.serve_epoll();
        self.loopers.fetch_sub(1, Ordering::SeqCst);
        crate::priority::leave_ceiling();
    }

    /// Without a looper nobody hears a reference's holder hang up: before minting more, a
    /// runtime with none reaps the owner ends that did (their fds and references), and re-arms
    /// whatever else the poll took.
    pub(super) fn reap_without_loopers(&self) {
        if self.loopers.load(Ordering::SeqCst) > 0 {
            return;
        }
        let mut events = [EpollEvent::empty(); 64];
        let Ok(n) = self.epoll.wait(&mut events, EpollTimeout::ZERO) else {
            return;
        };
        for ev in &events[..n] {
            let Some(conn) = self.conns.lock().get(&ev.data()).cloned() else {
                continue;
            };
            // An owner end's holder is gone: the reference is dropped. (A client end keeps what
            // came before its hang-up for the thread that will read it.)
            let hung_up = ev
                .events()
                .intersects(EpollFlags::EPOLLHUP | EpollFlags::EPOLLERR);
            if hung_up && matches!(conn.end, End::Owner(_)) {
                self.conn_died(&conn);
            } else {
                let mut st = conn.lock();
                st.armed = Armed::Spent;
                self.rearm(&conn, &mut st);
            }
        }
    }

    pub(super) fn serve_epoll(self: &Arc<Self>) {
        let mut events = [EpollEvent::empty(); 1];
        loop {
            self.idle.fetch_add(1, Ordering::SeqCst);
            let n = self.epoll.wait(&mut events, EpollTimeout::NONE);
            self.idle.fetch_sub(1, Ordering::SeqCst);
            if self.stopping.load(Ordering::SeqCst) {
                return;
            }
            match n {
                Ok(1) => {}
                Ok(_) | Err(Errno::EINTR) => continue,
                Err(_) => return,
            }
            match events[0].data() {
                STOP => return,
                RELEASES => self.flush_all_releases(),
                WORK => {
                    if self.work_fd.read().is_err() {
                        continue;
                    }
                    let Some((conn, work)) = self.work.lock().pop_front() else {
                        continue;
                    };
                    self.maybe_spawn(false);
                    self.do_work(&conn, work);
                }
                token => {
                    let Some(conn) = self.conns.lock().get(&token).cloned() else {
                        continue;
                    };
                    self.poll_conn(&conn);
                }
            }
        }
    }

    /// Handles an epoll event on a channel: one frame for an owner end, then, on shared
    /// memory, the next calls as long as they come within [`SHM_LINGER`]; for a client end
    /// (which only reports hang-ups) everything left before the hang-up, so no reply is lost.
    pub(super) fn poll_conn(self: &Arc<Self>, conn: &Arc<Conn>) {
        let owner = matches!(conn.end, End::Owner(_));
        let mut linger: Option<Instant> = None;
        loop {
            let serves = conn.lock().links.serves(&conn.end);
            let read = match linger {
                None => conn.poll_once(|c, st| self.rearm(c, st)),
                Some(until) => conn.linger(until, |c, st| self.rearm(c, st)),
            };
            match read {
                Read::HungUp => return self.conn_died(conn),
                Read::Busy => {
                    // The thread reading the channel may sleep on its ring: make it look at
                    // the socket this event was about.
                    if linger.is_none() {
                        conn.chan.kick();
                    }
                    return;
                }
                Read::Fresh(frame) => {
                    self.hand_on(conn);
                    self.maybe_spawn(false);
                    // Stay only while another looper waits in epoll for every other channel.
                    let stay = owner && self.idle.load(Ordering::SeqCst) > 0 && conn.chan.is_shm();
                    self.serve(conn, frame, Route::Fresh, stay);
                    if !stay {
                        return;
                    }
                    linger = Some(Instant::now() + SHM_LINGER);
                    continue;
                }
                Read::Drain(obj) => {
                    self.hand_on(conn);
                    self.maybe_spawn(false);
                    self.drain(&obj);
                    // The next one-way call is likely near: read it off the ring instead of
                    // making its sender ring the socket doorbell.
                    if linger.is_none()
                        && owner
                        && self.idle.load(Ordering::SeqCst) > 0
                        && conn.chan.is_shm()
                    {
                        linger = Some(Instant::now() + SHM_LINGER);
                    }
                }
                Read::Release { key, count } => self.release(conn, key, count),
                Read::Orphan(reply) => self.discard_reply(conn, reply),
                // Nothing there now: whatever woke us is read (an end that reports only its
                // hang-up reads on until that, which a read finds rather than nothing).
                Read::Empty => return,
                Read::Nothing | Read::Queued => {}
            }
            // Frames left in the ring: read on (nobody else hears of them).
            if serves && conn.take_more() {
                continue;
            }
            match linger {
                Some(until) if Instant::now() < until => {}
                // An end that serves was woken for what came and has read it; any other end
                // reports only its hang-up, and everything before it is read.
                _ if serves => return,
                _ => {}
            }
        }
    }
}
