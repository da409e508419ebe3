//! A signal whose handler was installed without `SA_RESTART` (by any library in the process)
//! interrupts blocking system calls with `EINTR`. A blocked receive must go on waiting, not fail:
//! the fuzz targets found receives failing this way under libFuzzer's timer signal.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

use afbus_transport::{Channel, FrameKind, Header};
use nix::sys::signal::{self, SaFlags, SigAction, SigHandler, SigSet, Signal};

static HANDLED: AtomicUsize = AtomicUsize::new(0);

extern "C" fn count(_: libc::c_int) {
    HANDLED.fetch_add(1, Ordering::SeqCst);
}

/// The scheduler state of thread `tid` of this process, from /proc ('S': asleep in a call).
fn state_of(tid: i32) -> char {
    let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).unwrap_or_default();
    stat.rsplit_once(')')
        .and_then(|(_, rest)| rest.trim_start().chars().next())
        .unwrap_or('?')
}

#[test]
fn a_blocked_receive_survives_an_interrupting_signal() {
    let action = SigAction::new(
        SigHandler::Handler(count),
        SaFlags::empty(),
        SigSet::empty(),
    );
    // SAFETY: the handler only touches an atomic, which is async-signal-safe.
    unsafe { signal::sigaction(Signal::SIGUSR1, &action) }.unwrap();

    let (a, b) = Channel::pair().unwrap();
    let (tid_tx, tid_rx) = mpsc::channel();
    let receiver = std::thread::spawn(move || {
        tid_tx
            .send((
                nix::unistd::gettid().as_raw(),
                nix::sys::pthread::pthread_self(),
            ))
            .unwrap();
        b.recv()
    });
    let (tid, thread) = tid_rx.recv().unwrap();
    // Once the thread sleeps it is inside recvmsg, its only blocking call.
    while state_of(tid) != 'S' {
        std::thread::yield_now();
    }
    nix::sys::pthread::pthread_kill(thread, Signal::SIGUSR1).unwrap();
    while HANDLED.load(Ordering::SeqCst) == 0 {
        std::thread::yield_now();
    }
    a.send(&Header::new(FrameKind::OneWay).with_code(7), b"after", &[])
        .expect("the receiver is still waiting, not failed with EINTR");
    let frame = receiver.join().unwrap().expect("the receive waited on");
    assert_eq!(
        (frame.header.code, frame.payload.as_slice()),
        (7, &b"after"[..])
    );
}
