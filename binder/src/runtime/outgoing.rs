//! Outgoing calls: routing, encoding a parcel's objects (given, home, or channels minted for
//! them), and decoding what comes back.

use super::*;

impl RuntimeInner {
    /// Picks the channel for a call on `proxy`: back over the caller's channel when the object
    /// lives in the process whose call this thread is serving.
    pub(super) fn route(&self, proxy: &Proxy) -> (Arc<Conn>, u64, u64) {
        CURRENT.with(|c| match c.borrow().last() {
            // The caller's runtime id is its word; its pid is the kernel's, and must agree.
            Some(cc)
                if cc.runtime == self.id
                    && cc.caller == proxy.owner
                    && cc.caller_pid == proxy.owner_pid =>
            {
                (cc.conn.clone(), proxy.key(), cc.txn)
            }
            _ => (proxy.conn.clone(), proxy.target, 0),
        })
    }

    /// Turns a parcel into a frame's payload (by `encode`), fds and flags: its objects become
    /// entries of the frame's object table (see [`crate::call`]), and data too large for a
    /// frame spills into a sealed memfd. `over`: the channel the frame goes on, when its
    /// objects are for the process at its other end (see [`gives`]).
    pub(super) fn encode_parcel(
        &self,
        parcel: Parcel,
        to: Recipient,
        over: Option<&Arc<Conn>>,
        encode: impl FnOnce(Vec<u8>, usize, &[WireObject]) -> Vec<u8>,
    ) -> Result<Outgoing> {
        let (mut bytes, mut fds, objects) = parcel.into_wire()?;
        let (table, obj_fds) = self.mint_all(&objects, to, over)?;
        let parcel_fds = fds.len();
        fds.extend(obj_fds);
        let mut flags = 0;
        if !fits_frame(bytes.len() + table.len() * call::OBJECT_LEN) {
            if bytes.len() > MAX_PARCEL_BYTES {
                return Err(Error::new(
                    StatusCode::BAD_VALUE,
                    format!(
                        "parcel of {} bytes exceeds MAX_PARCEL_BYTES ({MAX_PARCEL_BYTES})",
                        bytes.len()
                    ),
                ));
            }
            let spilled = crate::parcel::blob::seal(&bytes)
                .map_err(|e| Error::new(StatusCode::NO_MEMORY, format!("memfd: {e}")))?;
            fds.push(spilled);
            bytes = Vec::new();
            flags = FLAG_SPILLED;
        }
        check_frame(bytes.len() + table.len() * call::OBJECT_LEN, fds.len())?;
        Ok(Outgoing {
            payload: encode(bytes, parcel_fds, &table),
            fds,
            flags,
            objects,
        })
    }

    /// Encodes a call to `to`, going on `over`.
    pub(super) fn encode_call(
        &self,
        data: Parcel,
        info: &CallInfo,
        to: Recipient,
        over: &Arc<Conn>,
    ) -> Result<Outgoing> {
        let acting_for = crate::object::acting_for();
        let acting_for = acting_for.as_deref().unwrap_or_default();
        if acting_for.len() > crate::object::MAX_PRINCIPAL_LEN {
            return Err(Error::new(
                StatusCode::BAD_VALUE,
                "the principal a call is made for is longer than MAX_PRINCIPAL_LEN",
            ));
        }
        self.encode_parcel(data, to, Some(over), |bytes, parcel_fds, objects| {
            call::encode_call(bytes, parcel_fds, objects, info, acting_for)
        })
    }

    /// Encodes a reply to a caller, `to` (see [`Self::encode_parcel`] for `over`).
    pub(super) fn encode_reply(
        &self,
        reply: std::result::Result<Parcel, Status>,
        to: Recipient,
        over: Option<&Arc<Conn>>,
    ) -> Outgoing {
        let encoded = reply.map_err(Error::Service).and_then(|parcel| {
            self.encode_parcel(parcel, to, over, |bytes, parcel_fds, objects| {
                call::encode_reply(bytes, parcel_fds, objects, None)
            })
        });
        encoded.unwrap_or_else(|e| Outgoing {
            payload: call::encode_reply(Vec::new(), 0, &[], Some(&Status::from(e))),
            fds: Vec::new(),
            flags: 0,
            objects: Vec::new(),
        })
    }

    /// The object table entry (and any fd) for each object of an outgoing parcel going to
    /// `to`. Over a channel to the holder (`over`), an object of ours is given over it and one
    /// of the holder's own that it reaches through this channel goes home by its key: no fd.
    /// Otherwise an object travels as a reference channel: a proxy going back to the runtime
    /// that owns it as its own channel (a duplicate of the socket, which its owner knows by its
    /// cookie), an object of ours as a new channel, and another's as one its owner mints.
    pub(super) fn mint_all(
        &self,
        objects: &[SpIBinder],
        to: Recipient,
        over: Option<&Arc<Conn>>,
    ) -> Result<(Vec<WireObject>, Vec<OwnedFd>)> {
        let mut table = Vec::with_capacity(objects.len());
        let mut fds = Vec::new();
        for o in objects {
            let fd = match (&o.0, over) {
                (Kind::Remote(proxy), Some(c)) if Arc::ptr_eq(&proxy.conn, c) => {
                    table.push(WireObject::Home { key: proxy.key() });
                    continue;
                }
                (Kind::Local(obj), Some(c)) if obj.runtime_id == self.id => {
                    table.push(self.give(c, obj)?);
                    continue;
                }
                (Kind::Remote(proxy), _)
                    if proxy.minted
                        && proxy.target == 0
                        && proxy.owner_pid == to.pid
                        && proxy.owner == to.runtime =>
                {
                    proxy
                        .conn
                        .chan
                        .as_fd()
                        .try_clone_to_owned()
                        .map_err(|e| Error::new(StatusCode::NO_MEMORY, format!("dup: {e}")))?
                }
                (Kind::Local(obj), _) => match obj.runtime.upgrade() {
                    Some(rt) => rt.export(obj, to.pid)?,
                    None => {
                        return Err(Error::new(
                            StatusCode::DEAD_OBJECT,
                            "the object's runtime is gone",
                        ))
                    }
                },
                (Kind::Remote(proxy), _) => match self.take_spare(proxy, to.pid) {
                    Some(fd) => fd,
                    None => self.mint_remote(proxy, to.pid)?,
                },
            };
            table.push(WireObject::Channel);
            fds.push(fd);
        }
        Ok((table, fds))
    }

    /// Asks a proxy's owner for a new reference for process `to`, which the owner charges to
    /// `to` if it trusts our word (we are root or of its uid), else to us.
    pub(super) fn mint_remote(&self, proxy: &Proxy, to: i32) -> Result<OwnedFd> {
        let mut data = Parcel::new();
        data.write_i32(to);
        let (reply, _) = self.arc().call_frame(
            proxy,
            TransactionCode::MINT,
            data,
            Some(self.config.mint_timeout),
        )?;
        let (body, status, mut fds) = decode_reply(reply.frame)?;
        if let Some(status) = status {
            return Err(Error::Service(status));
        }
        match fds.len() {
            1 if body.parcel_fds == 0 => Ok(fds.pop().expect("one fd")),
            _ => Err(Error::new(
                StatusCode::BAD_VALUE,
                "mint reply must carry one reference",
            )),
        }
    }

    pub(crate) fn call(
        self: &Arc<Self>,
        proxy: &Proxy,
        code: TransactionCode,
        data: Parcel,
        timeout: Option<Duration>,
    ) -> Result<Parcel> {
        let (reply, conn) = self.call_frame(proxy, code, data, timeout)?;
        self.reply_parcel(reply, &conn)
    }

    /// Lets go of what a reply nobody waits for carries: its objects are taken as any reply's
    /// are and dropped at once (their owners hear the releases), its fds closed.
    pub(super) fn discard_reply(&self, conn: &Arc<Conn>, reply: Incoming) {
        if let Err(e) = self.reply_parcel(reply, conn) {
            tracing::debug!("a reply nobody waited for: {e}");
        }
    }

    /// The parcel a reply read from `conn` carries, or the status it failed with.
    pub(super) fn reply_parcel(&self, reply: Incoming, conn: &Arc<Conn>) -> Result<Parcel> {
        let (body, status, fds) = decode_reply(reply.frame)?;
        if let Some(status) = status {
            return Err(status.into());
        }
        self.to_parcel(body, fds, conn, reply.homes)
    }

    pub(super) fn call_frame(
        self: &Arc<Self>,
        proxy: &Proxy,
        code: TransactionCode,
        data: Parcel,
        timeout: Option<Duration>,
    ) -> Result<(Incoming, Arc<Conn>)> {
        let deadline = timeout.map(|t| Instant::now() + t);
        let (conn, txn) = self.send_call(proxy, code, data, false)?;
        loop {
            match conn.wait_reply(txn, deadline, |c, st| self.rearm(c, st))? {
                Woken::Reply(reply) => return Ok((reply, conn)),
                Woken::Nested(nested) => self.serve(&conn, nested, Route::Nested, false),
                Woken::Work(work) => self.take_work(&conn, work),
                Woken::HungUp => self.conn_died(&conn),
            }
        }
    }

    /// Sends a call on `proxy` and opens the mailbox for its reply: the channel it went on and
    /// its transaction number. `awaited`: a task in async code waits for the reply.
    pub(super) fn send_call(
        self: &Arc<Self>,
        proxy: &Proxy,
        code: TransactionCode,
        data: Parcel,
        awaited: bool,
    ) -> Result<(Arc<Conn>, u64)> {
        let (conn, target, nested_in) = self.route(proxy);
        let info = CallInfo {
            target,
            caller_runtime: self.id,
            nested_in,
            priority: self.caller_priority(),
        };
        let Outgoing {
            payload,
            fds,
            flags,
            objects,
        } = self.encode_call(data, &info, Recipient::owner_of(proxy), &conn)?;
        let txn = self.next_txn.fetch_add(1, Ordering::Relaxed);
        let nested = if nested_in != 0 { FLAG_NESTED } else { 0 };
        let header = Header::new(FrameKind::Request)
            .with_code(code.0)
            .with_txn(txn)
            .with_flags(flags | nested);
        conn.expect(txn, awaited)?;
        // The task reads the channel from now on: the loopers stop watching it before the
        // callee can answer (on one CPU the callee may run, and answer, before we look), unless
        // the task is likely to catch the answer in its spin (then only if it does not).
        #[cfg(feature = "tokio")]
        if awaited && !conn.chan.would_spin() {
            self.watch_for_hang_up_only(&conn);
        }
        self.flush_releases(&conn);
        // The caller reads the reply (on shared memory, the callee need not ring the socket
        // doorbell; a task that stops looking parks the ring first).
        conn.chan.will_read();
        if let Err(e) = conn.chan.send(&header, &payload, &borrow_all(&fds)) {
            conn.forget(txn);
            if matches!(e, afbus_transport::Error::HungUp) {
                self.conn_died(&conn);
            } else {
                // `will_read` took the ring off polling: put it back for whoever waits there.
                let mut st = conn.lock();
                if !st.is_reading() && self.rearm(&conn, &mut st) {
                    drop(st);
                    self.queue_work(&conn, Work::Poll);
                }
            }
            return Err(dead_if_hung_up(e));
        }
        self.mint_ahead_after(&objects);
        Ok((conn, txn))
    }

    pub(crate) fn oneway(
        self: &Arc<Self>,
        proxy: &Proxy,
        code: TransactionCode,
        data: Parcel,
        mode: OnewayMode,
    ) -> Result<()> {
        let info = CallInfo {
            target: proxy.target,
            caller_runtime: self.id,
            nested_in: 0,
            priority: self.caller_priority(),
        };
        let Outgoing {
            payload,
            fds,
            flags,
            objects,
        } = self.encode_call(data, &info, Recipient::owner_of(proxy), &proxy.conn)?;
        let header = Header::new(FrameKind::OneWay)
            .with_code(code.0)
            .with_flags(flags);
        let fds = borrow_all(&fds);
        self.flush_releases(&proxy.conn);
        let sent = match mode {
            OnewayMode::FailWhenFull => {
                let deadline = Instant::now() + crate::object::ONEWAY_ROOM_WAIT;
                proxy
                    .conn
                    .chan
                    .send_until(&header, &payload, &fds, Some(deadline))
            }
            OnewayMode::WaitWhenFull => proxy.conn.chan.send(&header, &payload, &fds),
        };
        self.mint_ahead_after(&objects);
        sent.map_err(|e| match e {
            afbus_transport::Error::HungUp => {
                self.conn_died(&proxy.conn);
                dead_if_hung_up(e)
            }
            afbus_transport::Error::WouldBlock | afbus_transport::Error::TimedOut => {
                if !proxy.refusal_logged.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        owner_pid = proxy.owner_pid,
                        "a one-way call was refused: the receiver took no more for {:?} (it \
                         stopped reading, or holds MAX_PENDING_ONEWAY_BYTES of this channel's \
                         calls or MAX_ONEWAY_BYTES_PER_SENDER of this process's); logged once \
                         per object",
                        crate::object::ONEWAY_ROOM_WAIT
                    );
                }
                Error::new(
                    StatusCode::WOULD_BLOCK,
                    "the receiver's one-way buffer is full",
                )
            }
            e => dead_if_hung_up(e),
        })
    }

    pub(super) fn caller_priority(&self) -> Priority {
        if self.config.inherit_priority {
            Priority::current().unwrap_or(Priority::DEFAULT)
        } else {
            Priority::DEFAULT
        }
    }

    /// The parcel a received body stands for, its objects made real: reference channels
    /// imported (or recognised as ours come home), objects given over `conn` as proxies that
    /// call them there, and ours come home over it by key.
    pub(super) fn to_parcel(
        &self,
        body: call::Body,
        mut fds: Vec<OwnedFd>,
        conn: &Arc<Conn>,
        homes: Vec<Option<Arc<LocalObject>>>,
    ) -> Result<Parcel> {
        let mut channels = fds.split_off(body.parcel_fds).into_iter();
        let mut homes = homes.into_iter();
        let mut objects = Vec::with_capacity(body.objects.len());
        for entry in body.objects {
            let object = match entry {
                WireObject::Given { key, number, owner } => {
                    self.receive_give(conn, key, number, owner)?
                }
                // Pinned when the frame was read (see `Incoming`).
                WireObject::Home { .. } => match homes.next().flatten() {
                    Some(obj) => SpIBinder(Kind::Local(obj)),
                    None => {
                        return Err(Error::new(
                            StatusCode::BAD_VALUE,
                            "an object said to be ours that was not given over this channel",
                        ))
                    }
                },
                WireObject::Channel => {
                    let fd = channels.next().ok_or_else(|| {
                        Error::new(StatusCode::BAD_VALUE, "a channel without its fd")
                    })?;
                    match self.home(&fd) {
                        Some(obj) => SpIBinder(Kind::Local(obj)),
                        None => {
                            let channel = Channel::from_fd(fd);
                            // A minted channel was made by the object's owner: its
                            // SO_PEERCRED is the owner's.
                            let maker = channel.socket_peer_credentials().map_or(0, |c| c.pid);
                            self.import(channel, maker, None)?
                        }
                    }
                }
            };
            objects.push(object);
        }
        Ok(Parcel::from_wire(body.data, fds, objects))
    }
}
