//! Incoming work: serving a call or one-way call (one place answers the built-in codes for
//! local and remote callers alike), one-way queues, and handing work to the pool.

use super::*;

impl RuntimeInner {
    /// Serves one request or one-way call that arrived on `conn`, and replies to a request.
    /// `stay`: this thread reads the channel again right after (see [`SHM_LINGER`]).
    pub(super) fn serve(
        self: &Arc<Self>,
        conn: &Arc<Conn>,
        incoming: Incoming,
        route: Route,
        stay: bool,
    ) {
        let frame = &incoming.frame;
        let oneway = frame.header.kind == FrameKind::OneWay;
        let txn = frame.header.txn;
        let caller = call::peek_caller(&frame.payload).unwrap_or(0);
        let caller_pid = frame.creds.map_or(0, |c| c.pid);
        let minting = frame.header.code == TransactionCode::MINT.0;
        // A spare's first frame from its holder claims it, if its broker has not yet.
        if conn.spare.load(Ordering::Relaxed) && caller_pid > 0 {
            self.claim(conn, caller_pid);
        }
        // While a synchronous call is served (its reply included, which may mint references),
        // calls to the caller's process go back over this channel to its waiting thread. A
        // one-way caller waits for nothing: calls from its handler take the ordinary route.
        if !oneway {
            CURRENT.with(|c| {
                c.borrow_mut().push(CurrentCall {
                    runtime: self.id,
                    conn: conn.clone(),
                    txn,
                    caller,
                    caller_pid,
                })
            });
        }
        // The process the kernel named, with its uid and gid as of now, when first asked (by
        // the call bound, or by the handler: the pidfd is asked once).
        let who = Caller::of_frame(conn, frame.creds);
        // Held until the reply is sent.
        let slot = match (oneway, route) {
            (false, Route::Fresh) => self.call_slot(&who),
            _ => Ok(None),
        };
        let result = match &slot {
            Ok(_) => self.run(conn, incoming, oneway, route, who),
            Err(status) => Err(status.clone()),
        };
        let reply = (!oneway).then(|| {
            let (result, pid) = match result {
                Ok((parcel, pid)) => (Ok(parcel), pid),
                Err(status) => (Err(status), caller_pid),
            };
            let to = Recipient {
                pid,
                runtime: caller,
            };
            // Objects in the reply are given over this channel when they are for the caller; a
            // reference minted for another process is a channel of its own.
            let over = (pid == caller_pid && !minting).then_some(conn);
            self.encode_reply(result, to, over)
        });
        if !oneway {
            CURRENT.with(|c| c.borrow_mut().pop());
        }
        if let Some(Outgoing {
            payload,
            fds,
            flags,
            objects,
        }) = reply
        {
            let header = Header::new(FrameKind::Reply)
                .with_txn(txn)
                .with_flags(flags);
            if stay {
                conn.chan.will_read();
            }
            // A channel that carries calls moves to shared memory: offered with its first reply,
            // not when it is made, so a reference only passed along never pays for a mapping.
            // At most MAX_RINGS_PER_PEER per peer process: its other channels stay on the socket.
            if self.config.shm
                && matches!(conn.end, End::Owner(_))
                && !conn.ring_tried.swap(true, Ordering::Relaxed)
                && self.peers.charge(conn.peer(), Held::Ring).is_ok()
            {
                // Under the channel's lock: either `conn_died` sees the ring and gives it back,
                // or we see the channel dead and do.
                let st = conn.lock();
                if st.dead {
                    drop(st);
                    self.peers.refund(conn.peer(), Held::Ring);
                } else {
                    conn.ring.store(true, Ordering::Relaxed);
                    drop(st);
                    let _ = conn.chan.offer_shm();
                }
            }
            self.flush_releases(conn);
            let deadline = Instant::now() + self.config.reply_timeout;
            crate::reply::send_reply(&conn.chan, &header, &payload, &borrow_all(&fds), deadline);
            self.mint_ahead_after(&objects);
        }
    }

    /// A place among the synchronous calls of the caller's uid being served, if they are
    /// bounded ([`RuntimeConfig::max_calls_per_uid`]); an error if the uid has them all.
    pub(super) fn call_slot(
        &self,
        caller: &Caller,
    ) -> std::result::Result<Option<CallSlot>, Status> {
        let Some(max) = self.config.max_calls_per_uid else {
            return Ok(None);
        };
        let uid = caller.get().uid;
        if uid == 0 || uid == nix::unistd::geteuid().as_raw() {
            return Ok(None);
        }
        let mut calls = self.calls_by_uid.lock();
        let n = calls.entry(uid).or_insert(0);
        if *n >= max {
            return Err(Status::new_exception(
                crate::status::ExceptionCode::ILLEGAL_STATE,
                format!("uid {uid} has {n} calls being served here (max_calls_per_uid); try again"),
            ));
        }
        *n += 1;
        Ok(Some(CallSlot {
            calls: self.calls_by_uid.clone(),
            uid,
        }))
    }

    pub(super) fn run(
        self: &Arc<Self>,
        conn: &Arc<Conn>,
        incoming: Incoming,
        oneway: bool,
        route: Route,
        caller: Caller,
    ) -> std::result::Result<(Parcel, i32), Status> {
        let Incoming {
            mut frame,
            target,
            homes,
        } = incoming;
        let code = TransactionCode(frame.header.code);
        let spilled = unspill(&mut frame).map_err(Status::from)?;
        let (mut body, info, acting_for) =
            call::decode_call(frame.payload, frame.fds.len()).map_err(Status::from)?;
        with_spilled(&mut body, spilled).map_err(Status::from)?;
        // The channel's own object (target 0) or one given over it, as the channel named them
        // when the call was read; in a call nested in one of ours, also any object of ours
        // named by the key of a live reference: a peer reaches only what it was given.
        let object = target.or_else(|| match (info.target, route) {
            (0, _) => None,
            (key, Route::Nested) => self.keys.lock().get(&key).cloned(),
            _ => None,
        });
        let object = object.ok_or_else(|| Status::from(StatusCode::NAME_NOT_FOUND))?;
        let mut data = self
            .to_parcel(body, frame.fds, conn, homes)
            .map_err(Status::from)?;
        // The priority is the caller's word: it may raise ours only if the caller could act as
        // this process anyway (root, or our own uid); anyone may lower it.
        let guard = self.config.inherit_priority.then(|| {
            PriorityGuard::for_call(info.priority, || {
                let uid = caller.get().uid;
                uid == 0 || uid == nix::unistd::geteuid().as_raw()
            })
        });
        let ctx = CallContext {
            caller,
            priority: info.priority,
            priority_applied: guard.as_ref().is_some_and(|g| g.applied),
            oneway,
            acting_for,
        };
        let mut reply = Parcel::new();
        // Whom the reply's references are for: the caller, unless a MINT says otherwise.
        let mut holder = ctx.caller.sent_pid();
        let answered = crate::object::builtin(&*object.binder, code, &mut data, &mut reply, &ctx);
        let result = match (answered, code) {
            (Some(answered), _) => answered,
            (None, TransactionCode::MINT_AHEAD) => {
                self.serve_mint_ahead(&object, &ctx, &mut data, &mut reply)
            }
            (None, TransactionCode::MINT) => {
                // A reference minted for a third process is charged to it if the caller (the
                // service manager, say) may vouch for it: root, or our own uid. Anyone else
                // holds what it has minted.
                let me = nix::unistd::geteuid().as_raw();
                let trusted = matches!(ctx.caller().uid, 0) || ctx.caller().uid == me;
                if let (true, Ok(pid)) = (trusted, data.read_i32()) {
                    holder = pid;
                }
                reply.write_binder(&SpIBinder(Kind::Local(object.clone())));
                Ok(())
            }
            (None, c) if c.is_builtin() => Err(Status::from(StatusCode::UNKNOWN_TRANSACTION)),
            (None, c) => dispatch(&*object.binder, c, &mut data, &mut reply, &ctx),
        };
        drop(guard);
        result.map(|()| (reply, holder))
    }

    /// Runs an object's queued one-way calls in order until the queue is empty.
    pub(super) fn drain(self: &Arc<Self>, obj: &Arc<LocalObject>) {
        loop {
            let next = {
                let mut q = obj.oneway.lock();
                let next = q.calls.pop_front();
                if next.is_none() {
                    q.running = false;
                }
                next
            };
            let Some((conn, incoming)) = next else { return };
            let bytes = incoming.frame.payload.len();
            let pid = incoming.frame.creds.map_or(0, |c| c.pid);
            self.serve(&conn, incoming, Route::Fresh, false);
            self.read_ahead(&conn);
            for c in conn.oneway_done(bytes, pid) {
                if self.rearm(&c, &mut c.lock()) {
                    self.queue_work(&c, Work::Poll);
                }
            }
        }
    }

    /// Takes what waits on a socket channel's socket while its one-way calls run: they are ours
    /// to hold (up to [`MAX_PENDING_ONEWAY_BYTES`](crate::MAX_PENDING_ONEWAY_BYTES), then
    /// reading pauses), not the sender's socket buffer's, which holds far fewer frames and would
    /// refuse the sender's next one-way call while we have room. (On a ring the sender has room
    /// for as much as we would read.)
    pub(super) fn read_ahead(self: &Arc<Self>, conn: &Arc<Conn>) {
        if !conn.lock().links.serves(&conn.end) || conn.chan.is_shm() {
            return;
        }
        loop {
            match conn.linger(Instant::now(), |c, st| self.rearm(c, st)) {
                Read::Queued => {}
                Read::Release { key, count } => self.release(conn, key, count),
                Read::Orphan(reply) => self.discard_reply(conn, reply),
                Read::Drain(obj) => self.queue_work(conn, Work::Drain(obj)),
                // A synchronous call is not read ahead past: it goes to the pool and reading
                // stops, so that a peer cannot pile calls up in memory behind one-way ones.
                Read::Fresh(frame) => return self.queue_work(conn, Work::Call(frame)),
                Read::HungUp => return self.conn_died(conn),
                Read::Nothing | Read::Empty | Read::Busy => return,
            }
        }
    }

    /// Before work that may take long: frames the last read left in the ring go to a looper.
    pub(super) fn hand_on(&self, conn: &Arc<Conn>) {
        if conn.take_more() {
            self.queue_work(conn, Work::Poll);
        }
    }

    pub(super) fn queue_work(&self, conn: &Arc<Conn>, work: Work) {
        self.work.lock().push_back((conn.clone(), work));
        let _ = self.work_fd.write(1);
        self.maybe_spawn(false);
    }

    pub(super) fn do_work(self: &Arc<Self>, conn: &Arc<Conn>, work: Work) {
        match work {
            Work::Call(frame) => self.serve(conn, frame, Route::Fresh, false),
            Work::Drain(obj) => self.drain(&obj),
            Work::Poll => self.poll_conn(conn),
            Work::Release { key, count } => self.release(conn, key, count),
            Work::Orphan(reply) => self.discard_reply(conn, reply),
            #[cfg(feature = "tokio")]
            Work::Nested(frame) => self.serve(conn, frame, Route::Nested, false),
        }
    }

    /// Work a thread waiting for a reply read: a release it does at once (it is quick and
    /// must not wait behind calls), the rest goes to the pool.
    pub(super) fn take_work(self: &Arc<Self>, conn: &Arc<Conn>, work: Work) {
        match work {
            Work::Release { key, count } => self.release(conn, key, count),
            Work::Orphan(reply) => self.discard_reply(conn, reply),
            work => self.queue_work(conn, work),
        }
    }
}
