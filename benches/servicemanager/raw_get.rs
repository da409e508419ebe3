//! The floor of a first get: with no framework, one `SOCK_SEQPACKET` request to a broker
//! thread, answered either with a byte (a null call) or with a byte and one end of a
//! socketpair made ahead (`SCM_RIGHTS`), which the client closes; the broker makes the next
//! pair after answering. What the kernel charges for handing a process a new connection.

use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, OwnedFd};

use nix::sys::socket::{recvmsg, send, sendmsg, ControlMessage, ControlMessageOwned, MsgFlags};

use super::common::{socketpair, Result};

/// A request: a null call.
const NULL: u8 = 0;
/// A request: a new connection.
const GET: u8 = 1;

/// The client's end of a raw broker, whose thread serves until this is dropped.
pub struct RawBroker {
    sock: OwnedFd,
}

impl RawBroker {
    /// Starts the broker thread (placed by the scheduler as the caller's affinity allows).
    pub fn start() -> Result<RawBroker> {
        let (sock, theirs) = socketpair()?;
        std::thread::spawn(move || serve(theirs));
        Ok(RawBroker { sock })
    }

    /// A null call.
    pub fn call(&self) -> Result {
        self.ask(NULL)
    }

    /// A get: the reply carries a new connection, closed at once.
    pub fn get(&self) -> Result {
        self.ask(GET)
    }

    fn ask(&self, what: u8) -> Result {
        send(self.sock.as_raw_fd(), &[what], MsgFlags::empty())?;
        let mut byte = [0u8; 1];
        let mut iov = [IoSliceMut::new(&mut byte)];
        let mut cmsg = nix::cmsg_space!([std::os::fd::RawFd; 1]);
        let msg = recvmsg::<()>(
            self.sock.as_raw_fd(),
            &mut iov,
            Some(&mut cmsg),
            MsgFlags::MSG_CMSG_CLOEXEC,
        )?;
        for c in msg.cmsgs()? {
            if let ControlMessageOwned::ScmRights(fds) = c {
                for fd in fds {
                    nix::unistd::close(fd)?;
                }
            }
        }
        Ok(())
    }
}

fn serve(sock: OwnedFd) -> Result {
    let mut spare = socketpair()?;
    loop {
        let mut req = [0u8; 1];
        let mut iov = [IoSliceMut::new(&mut req)];
        if recvmsg::<()>(sock.as_raw_fd(), &mut iov, None, MsgFlags::empty())?.bytes == 0 {
            return Ok(());
        }
        let reply = [IoSlice::new(&[0])];
        if req[0] == GET {
            let fds = [spare.1.as_raw_fd()];
            let rights = [ControlMessage::ScmRights(&fds)];
            sendmsg::<()>(sock.as_raw_fd(), &reply, &rights, MsgFlags::empty(), None)?;
            spare = socketpair()?;
        } else {
            sendmsg::<()>(sock.as_raw_fd(), &reply, &[], MsgFlags::empty(), None)?;
        }
    }
}
