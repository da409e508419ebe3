//! Waiting for a reply in async code (the `tokio` feature). The call is sent as any other; its
//! task then reads the channel when the socket is readable, as the tokio reactor says, instead
//! of blocking a thread in `recvmsg` or on the ring's futex. On shared memory the channel is
//! parked for polling first, so that the callee rings the socket doorbell for its reply. What
//! the task reads that is not its reply goes where a blocked thread would send it, except a
//! call nested in its own: a task cannot run a blocking handler, so it is served on tokio's
//! blocking pool, as the waiting thread would serve it.

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::task::Poll;

use ::tokio::io::unix::{AsyncFd, AsyncFdReadyGuard};

use super::*;
use crate::conn::Found;
use crate::tokio::{poller, Registered};

/// A readiness wait on a channel's socket, kept across polls.
type Readable<'a> =
    Pin<Box<dyn Future<Output = std::io::Result<AsyncFdReadyGuard<'a, Registered>>> + Send + 'a>>;

/// An async call's open mailbox: closed when the call's future ends or is dropped (a reply
/// that comes later is discarded); calls nested in it that were not served are served
/// elsewhere.
struct Mailbox<'a> {
    rt: &'a Arc<RuntimeInner>,
    conn: &'a Arc<Conn>,
    txn: u64,
}

impl Drop for Mailbox<'_> {
    fn drop(&mut self) {
        for nested in self.conn.forget(self.txn) {
            self.rt.serve_nested(self.conn, nested);
        }
        // The loopers watch what comes again, unless another task awaits a reply here or a
        // thread reads now (it re-arms when it is done).
        let mut st = self.conn.lock();
        if !st.is_reading() && self.rt.rearm(self.conn, &mut st) {
            drop(st);
            self.rt.queue_work(self.conn, Work::Poll);
        }
    }
}

impl RuntimeInner {
    /// While a task waits for the socket of `conn` to be readable, the loopers' epoll waits
    /// only for its hang-up: the task reads what comes (see `ConnState::awaited`). Re-armed
    /// when the task's mailbox closes, by the next reader, or, if the task is not polled again
    /// soon (a future kept but left alone), by the release timer: fresh calls on the channel
    /// wait at most [`RELEASE_DELAY`] for a looper.
    pub(super) fn watch_for_hang_up_only(&self, conn: &Arc<Conn>) {
        let mut st = conn.lock();
        if st.armed == Armed::In && !st.is_reading() && !st.dead {
            self.arm(conn, &mut st, Armed::HangUp);
            drop(st);
            self.quiet.lock().push(Arc::downgrade(conn));
            self.arm_release_timer();
        }
    }

    /// The release timer fired: channels a task quieted are watched again.
    pub(super) fn watch_quiet_again(&self) {
        let quiet = std::mem::take(&mut *self.quiet.lock());
        for conn in quiet.iter().filter_map(Weak::upgrade) {
            let mut st = conn.lock();
            let quieted = st.armed == Armed::HangUp && !st.is_reading() && !st.dead;
            if quieted && st.links.serves(&conn.end) {
                self.arm(&conn, &mut st, Armed::In);
            }
        }
    }

    /// Serves a call nested in one a task awaited, on tokio's blocking pool (a task cannot
    /// run a blocking handler, and a looper may not be free: all of them could be awaiting
    /// calls whose callees call back); on a looper outside tokio.
    fn serve_nested(self: &Arc<Self>, conn: &Arc<Conn>, nested: Incoming) {
        match ::tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                let (rt, conn) = (self.clone(), conn.clone());
                handle.spawn_blocking(move || {
                    crate::tokio::off_worker(|| rt.serve(&conn, nested, Route::Nested, false))
                });
            }
            Err(_) => self.queue_work(conn, Work::Nested(nested)),
        }
    }

    /// [`Self::call`] from async code, with no timeout of its own: drop the future to give up.
    pub(crate) async fn call_async(
        self: &Arc<Self>,
        proxy: &Proxy,
        code: TransactionCode,
        data: Parcel,
    ) -> Result<Parcel> {
        let conn = self.route(proxy).0;
        let poller = poller(&conn)?;
        let (conn, txn) = self.send_call(proxy, code, data, true)?;
        let mailbox = Mailbox {
            rt: self,
            conn: &conn,
            txn,
        };
        let mut spin = true;
        loop {
            match self.next_woken(&conn, txn, &poller, &mut spin).await? {
                Woken::Reply(reply) => {
                    drop(mailbox);
                    return self.reply_parcel(reply, &conn);
                }
                Woken::Nested(nested) => self.serve_nested(&conn, nested),
                Woken::Work(work) => self.take_work(&conn, work),
                Woken::HungUp => self.conn_died(&conn),
            }
        }
    }

    /// What the task waiting for `txn` must act on next, awaited: read when the socket is
    /// readable, or when a thread that read for it files something. `spin`: spin first (then
    /// not again for this call).
    async fn next_woken(
        self: &Arc<Self>,
        conn: &Arc<Conn>,
        txn: u64,
        poller: &AsyncFd<Registered>,
        spin: &mut bool,
    ) -> Result<Woken> {
        let mut readable: Option<Readable<'_>> = None;
        let mut look = |waker: &std::task::Waker| {
            let spin = std::mem::take(spin);
            conn.try_reply(txn, waker, spin, |c, st| self.rearm(c, st))
        };
        poll_fn(|cx| loop {
            match look(cx.waker()) {
                Err(e) => return Poll::Ready(Err(e)),
                Ok(Found::Woken(woken)) => return Poll::Ready(Ok(woken)),
                // Whoever reads files what comes and wakes us.
                Ok(Found::Elsewhere) => return Poll::Pending,
                Ok(Found::Empty) => self.watch_for_hang_up_only(conn),
            }
            let wait = readable.get_or_insert_with(|| Box::pin(poller.readable()));
            let mut guard = match wait.as_mut().poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => {
                    return Poll::Ready(Err(Error::new(
                        StatusCode::UNKNOWN_ERROR,
                        format!("waiting for the channel to be readable: {e}"),
                    )))
                }
                Poll::Ready(Ok(guard)) => guard,
            };
            readable = None;
            // Readable as of the reactor's last word: read under that word, and forget it only
            // if nothing is there (a newer readiness survives the clearing).
            match look(cx.waker()) {
                Err(e) => return Poll::Ready(Err(e)),
                Ok(Found::Woken(woken)) => return Poll::Ready(Ok(woken)),
                Ok(Found::Elsewhere) => return Poll::Pending,
                Ok(Found::Empty) => guard.clear_ready(),
            }
        })
        .await
    }
}
