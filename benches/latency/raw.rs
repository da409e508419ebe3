//! The floors: the same request/reply exchanges with no framework.
//!
//! `raw-seqpacket` sends an 8-byte header (operation, length) and the payload as one
//! `SOCK_SEQPACKET` datagram each way; an object travels as an fd (`SCM_RIGHTS`) that comes back.
//! `raw-futex` copies the message into a shared mapping and rings a futex word; the peer sleeps
//! in `FUTEX_WAIT` (no spinning), copies the message out, and answers the same way.
//! `raw-futex-rt` is `raw-futex` with its server at the `schd` caller's real-time priority for
//! good: what a callee costs that needs no priority change at all.

use std::io::IoSlice;
use std::io::IoSliceMut;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::Path;

use nix::sys::socket::{
    accept, bind, connect, listen, recv, recvmsg, send, sendmsg, socket, AddressFamily, Backlog,
    ControlMessage, ControlMessageOwned, MsgFlags, SockFlag, SockType, UnixAddr,
};

use super::common::Result;
use super::futex::SharedPage;
use super::{runs_at_caller_priority, Client, Op, MAX_MESSAGE};

/// Bytes of the raw header: operation (u32) and payload length (u32).
const RAW_HEADER: usize = 8;

fn header(op: Op, len: usize) -> [u8; RAW_HEADER] {
    let mut h = [0u8; RAW_HEADER];
    h[..4].copy_from_slice(&(op as u32).to_le_bytes());
    h[4..].copy_from_slice(&(len as u32).to_le_bytes());
    h
}

fn parse_header(b: &[u8]) -> Result<(Op, usize)> {
    let h: [u8; RAW_HEADER] = b
        .get(..RAW_HEADER)
        .and_then(|h| h.try_into().ok())
        .ok_or("short raw message")?;
    let op = Op::from_wire(u32::from_le_bytes(h[..4].try_into()?)).ok_or("unknown raw op")?;
    Ok((op, u32::from_le_bytes(h[4..].try_into()?) as usize))
}

/// What the server answers to `op` with `body`: the reply payload.
fn reply_body<'a>(op: Op, body: &'a [u8], flag: &'a mut [u8; 1]) -> &'a [u8] {
    match op {
        Op::Echo => body,
        Op::Schd => {
            flag[0] = u8::from(runs_at_caller_priority());
            &flag[..]
        }
        Op::Null | Op::Ping | Op::Object => &[],
    }
}

/// The client of `raw-seqpacket`.
pub struct SeqpacketClient {
    sock: OwnedFd,
    msg: Vec<u8>,
    buf: Vec<u8>,
    /// The fd that travels as the object.
    token: OwnedFd,
}

impl SeqpacketClient {
    /// Listens on `path`; `spawn` starts the server, which connects there.
    pub fn new(path: &Path, spawn: impl FnOnce() -> Result) -> Result<SeqpacketClient> {
        let listener = socket(
            AddressFamily::Unix,
            SockType::SeqPacket,
            SockFlag::SOCK_CLOEXEC,
            None,
        )?;
        bind(listener.as_raw_fd(), &UnixAddr::new(path)?)?;
        listen(&listener, Backlog::new(1)?)?;
        spawn()?;
        let sock = accept(listener.as_fd())?;
        Ok(SeqpacketClient {
            sock,
            msg: Vec::with_capacity(MAX_MESSAGE),
            buf: vec![0u8; MAX_MESSAGE],
            token: std::fs::File::open("/dev/null")?.into(),
        })
    }
}

impl Client for SeqpacketClient {
    fn call(&mut self, op: Op, payload: &[u8]) -> Result<bool> {
        self.msg.clear();
        self.msg.extend_from_slice(&header(op, payload.len()));
        self.msg.extend_from_slice(payload);
        let fd = self.sock.as_raw_fd();
        let n = if op == Op::Object {
            let token = [self.token.as_raw_fd()];
            sendmsg::<()>(
                fd,
                &[IoSlice::new(&self.msg)],
                &[ControlMessage::ScmRights(&token)],
                MsgFlags::MSG_NOSIGNAL,
                None,
            )?;
            let back = recv_with_fd(self.sock.as_fd(), &mut self.buf)?;
            back.1.ok_or("object did not come back")?;
            back.0
        } else {
            send(fd, &self.msg, MsgFlags::MSG_NOSIGNAL)?;
            recv(fd, &mut self.buf, MsgFlags::empty())?
        };
        let (_, len) = parse_header(&self.buf[..n])?;
        if n != RAW_HEADER + len {
            return Err("raw reply length mismatch".into());
        }
        check_reply(op, payload.len(), &self.buf[RAW_HEADER..n])
    }
}

/// Checks a reply body against the call; the result is the priority flag (Schd only).
fn check_reply(op: Op, sent: usize, body: &[u8]) -> Result<bool> {
    match op {
        Op::Echo if body.len() != sent => Err("echo came back with another length".into()),
        Op::Schd => Ok(body.first() == Some(&1)),
        _ => Ok(true),
    }
}

/// Receives one datagram and at most one fd.
fn recv_with_fd(sock: BorrowedFd<'_>, buf: &mut [u8]) -> Result<(usize, Option<OwnedFd>)> {
    let mut cmsg = nix::cmsg_space!([std::os::fd::RawFd; 1]);
    let mut iov = [IoSliceMut::new(buf)];
    let msg = recvmsg::<()>(
        sock.as_raw_fd(),
        &mut iov,
        Some(&mut cmsg),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )?;
    let mut fd = None;
    for c in msg.cmsgs()? {
        if let ControlMessageOwned::ScmRights(fds) = c {
            for raw in fds {
                // The kernel just installed `raw` in this process for us alone.
                let owned = take_received_fd(raw);
                fd.get_or_insert(owned);
            }
        }
    }
    Ok((msg.bytes, fd))
}

/// Takes ownership of an fd that `SCM_RIGHTS` installed in this process (`nix` hands received
/// fds over as raw numbers).
#[allow(unsafe_code)]
fn take_received_fd(raw: std::os::fd::RawFd) -> OwnedFd {
    use std::os::fd::FromRawFd;
    // SAFETY: `raw` was installed by the kernel in this process by the recvmsg above and is
    // owned by nothing else; it is wrapped exactly once.
    unsafe { OwnedFd::from_raw_fd(raw) }
}

/// The server of `raw-seqpacket`: connects to `path` and answers until the client goes away.
pub fn seqpacket_server(path: &str) -> Result {
    let sock = socket(
        AddressFamily::Unix,
        SockType::SeqPacket,
        SockFlag::SOCK_CLOEXEC,
        None,
    )?;
    connect(sock.as_raw_fd(), &UnixAddr::new(path)?)?;
    let mut buf = vec![0u8; MAX_MESSAGE];
    let mut out = Vec::with_capacity(MAX_MESSAGE);
    let mut flag = [0u8; 1];
    loop {
        let (n, fd) = recv_with_fd(sock.as_fd(), &mut buf)?;
        if n == 0 {
            return Ok(());
        }
        let (op, len) = parse_header(&buf[..n])?;
        let body = reply_body(op, &buf[RAW_HEADER..RAW_HEADER + len], &mut flag);
        out.clear();
        out.extend_from_slice(&header(op, body.len()));
        out.extend_from_slice(body);
        match fd {
            Some(fd) => {
                let fds = [fd.as_raw_fd()];
                sendmsg::<()>(
                    sock.as_raw_fd(),
                    &[IoSlice::new(&out)],
                    &[ControlMessage::ScmRights(&fds)],
                    MsgFlags::MSG_NOSIGNAL,
                    None,
                )?;
            }
            None => {
                send(sock.as_raw_fd(), &out, MsgFlags::MSG_NOSIGNAL)?;
            }
        }
    }
}

/// The client of `raw-futex`.
pub struct FutexClient {
    page: SharedPage,
    seq: u32,
    buf: Vec<u8>,
}

impl FutexClient {
    /// Creates the shared file at `path`; `spawn` starts the server, which maps it and says
    /// it is ready.
    pub fn new(path: &Path, spawn: impl FnOnce() -> Result) -> Result<FutexClient> {
        let page = SharedPage::create(path)?;
        spawn()?;
        Ok(FutexClient {
            page,
            seq: 0,
            buf: vec![0u8; MAX_MESSAGE],
        })
    }
}

impl Client for FutexClient {
    fn call(&mut self, op: Op, payload: &[u8]) -> Result<bool> {
        self.page.put_request(op as u32, payload)?;
        self.seq = self.seq.wrapping_add(1);
        self.page.ring(SharedPage::REQUEST, self.seq);
        self.page.wait_for(SharedPage::REPLY, self.seq)?;
        let n = self.page.take_reply(&mut self.buf)?;
        check_reply(op, payload.len(), &self.buf[..n])
    }
}

/// The server of `raw-futex`: maps the file at `path` and answers for ever. For `raw-futex-rt`
/// (`realtime`) it runs at [`SCHD_PRIORITY`](super::SCHD_PRIORITY) throughout: the floor of
/// any priority inheritance, a callee already at the caller's priority when it is woken.
pub fn futex_server(path: &str, realtime: bool) -> Result {
    if realtime {
        super::SCHD_PRIORITY.apply()?;
    }
    let page = SharedPage::open(Path::new(path))?;
    super::say_ready()?;
    let mut buf = vec![0u8; MAX_MESSAGE];
    let mut flag = [0u8; 1];
    let mut seq = 0u32;
    loop {
        seq = seq.wrapping_add(1);
        page.wait_for(SharedPage::REQUEST, seq)?;
        let (op, n) = page.take_request(&mut buf)?;
        let op = Op::from_wire(op).ok_or("unknown futex op")?;
        let body = reply_body(op, &buf[..n], &mut flag);
        page.put_reply(body)?;
        page.ring(SharedPage::REPLY, seq);
    }
}
