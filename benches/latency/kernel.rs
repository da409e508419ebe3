//! The `binder-kernel` row: the same calls through the kernel Binder driver, spoken directly
//! through its UAPI (no libbinder). The server is the context manager (handle 0); the client
//! sends `BC_TRANSACTION` to handle 0 and waits for `BR_REPLY`. The server answers each
//! `BR_TRANSACTION` with `BC_REPLY` followed by `BC_FREE_BUFFER` in one `BINDER_WRITE_READ`, as
//! libbinder does; an echo's reply points at the request in the server's receive buffer, so the
//! server copies nothing. The client frees each reply buffer with its next call.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::binder_uapi::*;
use super::common::Result;
use super::{runs_at_caller_priority, Client, Op};

/// Env var naming the Binder device to use instead of the usual places.
pub const DEVICE_VAR: &str = "AFBUS_BINDER_DEVICE";

/// Where a Binder device is looked for: Debian's module with `devices=binder`, then binderfs.
const DEVICES: &[&str] = &["/dev/binder", "/dev/binderfs/binder"];

/// Bytes of returns read per `BINDER_WRITE_READ`.
const READ_BYTES: usize = 256;

/// How long the server retries becoming context manager while the previous one is released.
const CONTEXT_MGR_WAIT: Duration = Duration::from_secs(10);

/// The pointer the client's token object is known by (any non-zero value of ours).
const TOKEN: u64 = 0x7fee_d000;

/// The Binder device to use, if there is one.
pub fn device() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(DEVICE_VAR) {
        return Some(p.into());
    }
    DEVICES
        .iter()
        .map(PathBuf::from)
        .find(|p| Path::new(p).exists())
}

fn code(op: Op) -> u32 {
    match op {
        Op::Ping => PING_TRANSACTION,
        other => other as u32,
    }
}

/// The client side.
pub struct KernelClient {
    dev: Device,
    cmds: Commands,
    read: Vec<u8>,
    returns: Vec<Return>,
    reply: Vec<u8>,
}

impl KernelClient {
    /// Calls through `dev`; `spawn` starts the server and returns once it is context manager.
    pub fn new(dev: Device, spawn: impl FnOnce() -> Result) -> Result<KernelClient> {
        spawn()?;
        Ok(KernelClient {
            dev,
            cmds: Commands::default(),
            read: vec![0u8; READ_BYTES],
            returns: Vec::new(),
            reply: Vec::new(),
        })
    }
}

impl Client for KernelClient {
    fn call(&mut self, op: Op, payload: &[u8]) -> Result<bool> {
        let object = flat_object(TYPE_BINDER, FLAG_ACCEPTS_FDS, TOKEN, 0);
        let offsets = [0u64];
        let (data, offsets): (&[u8], &[u64]) = match op {
            Op::Null | Op::Echo => (payload, &[]),
            Op::Object => (&object, &offsets),
            Op::Ping | Op::Schd => (&[], &[]),
        };
        self.cmds.txn(
            BC_TRANSACTION,
            &Txn {
                target: 0,
                code: code(op),
                flags: TF_ACCEPT_FDS,
                data_size: data.len() as u64,
                offsets_size: std::mem::size_of_val(offsets) as u64,
                buffer: data.as_ptr() as u64,
                offsets: offsets.as_ptr() as u64,
                ..Txn::default()
            },
        );
        let mut replied = false;
        while !replied {
            // `data` and `offsets` stay alive across this call, which is where the driver
            // copies them.
            let n = self.dev.write_read(self.cmds.as_bytes(), &mut self.read)?;
            self.cmds.clear();
            self.returns.clear();
            parse_returns(&self.read[..n], &mut self.returns)?;
            for r in self.returns.drain(..) {
                match r {
                    Return::Txn(BR_REPLY, t) => {
                        self.cmds.free_buffer(t.buffer);
                        if t.flags & TF_STATUS_CODE != 0 {
                            return Err("binder reply carried an error status".into());
                        }
                        self.dev.copy_out(t.buffer, t.data_size, &mut self.reply)?;
                        replied = true;
                    }
                    Return::Refs(BR_INCREFS, ptr, cookie) => {
                        self.cmds.ptr_cookie(BC_INCREFS_DONE, ptr, cookie)
                    }
                    Return::Refs(BR_ACQUIRE, ptr, cookie) => {
                        self.cmds.ptr_cookie(BC_ACQUIRE_DONE, ptr, cookie)
                    }
                    Return::Refs(..) | Return::Plain(BR_NOOP | BR_TRANSACTION_COMPLETE) => {}
                    other => return Err(format!("binder call failed: {other:?}").into()),
                }
            }
        }
        match op {
            Op::Echo if self.reply.len() != payload.len() => {
                Err("echo came back with another length".into())
            }
            Op::Object if self.reply != flat_object(TYPE_BINDER, FLAG_ACCEPTS_FDS, TOKEN, 0) => {
                Err("the object came back as something else".into())
            }
            Op::Schd => Ok(self.reply.first() == Some(&1)),
            _ => Ok(true),
        }
    }
}

/// The server process: becomes the context manager of the device at `path`, says it is ready,
/// and answers calls for ever.
pub fn server(path: &str) -> Result {
    let dev = Device::open(Path::new(path))?;
    let started = Instant::now();
    // The previous context manager (an earlier pin mode's server) is released asynchronously
    // after its process exits.
    while let Err(e) = dev.become_context_manager() {
        if e.raw_os_error() != Some(libc::EBUSY) || started.elapsed() > CONTEXT_MGR_WAIT {
            return Err(e.into());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let mut cmds = Commands::default();
    cmds.plain(BC_ENTER_LOOPER);
    dev.write_read(cmds.as_bytes(), &mut [])?;
    cmds.clear();
    super::say_ready()?;
    let mut read = vec![0u8; READ_BYTES];
    let mut returns = Vec::new();
    // The Schd flag lives here, across the write_read that sends the reply pointing at it.
    let mut flag = [0u8; 1];
    loop {
        let n = dev.write_read(cmds.as_bytes(), &mut read)?;
        cmds.clear();
        returns.clear();
        parse_returns(&read[..n], &mut returns)?;
        for r in returns.drain(..) {
            match r {
                Return::Txn(BR_TRANSACTION, t) => {
                    let mut reply = Txn::default();
                    let op = if t.code == PING_TRANSACTION {
                        Some(Op::Ping)
                    } else {
                        Op::from_wire(t.code)
                    };
                    match op {
                        Some(Op::Echo | Op::Object) => {
                            // Answer with the request itself, straight from the receive
                            // buffer (the driver translates the object back to the caller).
                            reply.data_size = t.data_size;
                            reply.offsets_size = t.offsets_size;
                            reply.buffer = t.buffer;
                            reply.offsets = t.offsets;
                        }
                        Some(Op::Schd) => {
                            flag[0] = u8::from(runs_at_caller_priority());
                            reply.data_size = 1;
                            reply.buffer = flag.as_ptr() as u64;
                        }
                        _ => {}
                    }
                    cmds.txn(BC_REPLY, &reply);
                    cmds.free_buffer(t.buffer);
                }
                Return::Refs(BR_INCREFS, ptr, cookie) => {
                    cmds.ptr_cookie(BC_INCREFS_DONE, ptr, cookie)
                }
                Return::Refs(BR_ACQUIRE, ptr, cookie) => {
                    cmds.ptr_cookie(BC_ACQUIRE_DONE, ptr, cookie)
                }
                Return::Refs(..)
                | Return::Plain(BR_NOOP | BR_TRANSACTION_COMPLETE | BR_SPAWN_LOOPER) => {}
                other => return Err(format!("binder server: unexpected {other:?}").into()),
            }
        }
    }
}
