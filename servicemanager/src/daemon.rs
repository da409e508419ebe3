//! The bus master daemon as a value: the bus, its policy, and the IServiceManager object.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use afbus_binder::{Runtime, RuntimeConfig};
use afbus_transport::{
    BusMaster, BusSocket, Credentials, Fields, MasterHandle, MatchRule, PeerInfo, Verdict,
    WellKnownName,
};
use parking_lot::RwLock;

use crate::activation::{self, Declaration};
use crate::policy::{ConfigError, Op, Policy};
use crate::protocol::{IServiceManagerStub, SERVICE_MANAGER_NAME};
use crate::service::{ServiceManager, ServiceManagerObject};

/// Most threads the daemon uses to serve calls; each getter that waits holds one.
pub const DAEMON_MAX_THREADS: usize = 64;
/// How long a daemon thread waits on another process: for a service's owner to mint the
/// reference a get hands out, or for a caller's channel to take a reply. Past it, that get
/// fails (or that caller's channel is shut down), so that an owner that does not answer or a
/// client that does not read holds a thread for this long at most.
pub const DAEMON_PEER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(1);
/// Calls of one uid (other than root and the daemon's own) the daemon serves at once: a quarter
/// of its threads, so that no uid can hold them all with calls that wait on something it
/// controls (a service of its own that never answers, replies it never reads).
pub const DAEMON_CALLS_PER_UID: usize = DAEMON_MAX_THREADS / 4;

/// How long services the daemon started have to exit after SIGTERM when it stops, before
/// SIGKILL (systemd's stop sequence; its default `TimeoutStopSec` is 90 s, too long for a bus
/// whose services exit in milliseconds).
pub const STOP_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

/// Why the daemon could not start or reload.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// The policy file does not compile.
    #[error("{0}")]
    Policy(#[from] ConfigError),
    /// The bus socket could not be set up.
    #[error("bus: {0}")]
    Bus(#[from] afbus_transport::Error),
    /// The binder runtime failed.
    #[error("binder: {0}")]
    Binder(#[from] afbus_binder::Error),
    /// A directory could not be made.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

/// What the daemon needs to start.
#[derive(Clone, Debug)]
pub struct DaemonOptions {
    /// The bus socket's path.
    pub bus: PathBuf,
    /// The policy file; none: the owner and root may do everything, others nothing.
    pub policy_file: Option<PathBuf>,
    /// The directory of service declarations (activation).
    pub services_dir: Option<PathBuf>,
}

/// A running bus master with its service manager. Dropping it stops the bus.
pub struct Daemon {
    master: MasterHandle,
    rt: Runtime,
    policy: Arc<RwLock<Policy>>,
    policy_file: Option<PathBuf>,
    services_dir: Option<PathBuf>,
    sm: Arc<ServiceManager>,
    _endpoint: Arc<BusSocket>,
}

impl Daemon {
    /// Binds the bus, compiles the policy, and serves IServiceManager on it.
    pub fn start(opts: &DaemonOptions) -> Result<Daemon, DaemonError> {
        let policy = load_policy(opts.policy_file.as_deref())?;
        Daemon::start_with(opts, policy)
    }

    /// As [`start`](Self::start), with a policy given in code.
    pub fn start_with(opts: &DaemonOptions, policy: Policy) -> Result<Daemon, DaemonError> {
        if let Some(dir) = opts.bus.parent() {
            std::fs::create_dir_all(dir).map_err(|source| DaemonError::Io {
                path: dir.to_owned(),
                source,
            })?;
        }
        let declared = load_declarations(opts.services_dir.as_deref())?;
        let policy = Arc::new(RwLock::new(policy));
        let master = BusMaster::bind(&opts.bus, BusPolicy(policy.clone()))?.spawn()?;
        let rt = Runtime::new(RuntimeConfig {
            max_threads: DAEMON_MAX_THREADS,
            mint_timeout: DAEMON_PEER_TIMEOUT,
            mint_ahead: afbus_binder::MINT_AHEAD_BATCH,
            reply_timeout: DAEMON_PEER_TIMEOUT,
            max_calls_per_uid: Some(DAEMON_CALLS_PER_UID),
            ..RuntimeConfig::default()
        })?;
        rt.start_thread_pool();
        let endpoint = Arc::new(BusSocket::connect(&opts.bus)?);
        let sm = ServiceManager::new(policy.clone(), opts.bus.clone(), declared);
        let object = rt.local(IServiceManagerStub::new(ServiceManagerObject(sm.clone())));
        rt.publish(&endpoint, SERVICE_MANAGER_NAME, &object)?;
        tracing::info!(bus = %opts.bus.display(), "bus master ready");
        Ok(Daemon {
            master,
            rt,
            policy,
            policy_file: opts.policy_file.clone(),
            services_dir: opts.services_dir.clone(),
            sm,
            _endpoint: endpoint,
        })
    }

    /// The bus socket's path.
    pub fn path(&self) -> &Path {
        self.master.path()
    }

    /// Reads the policy file and the service declarations again; if either is bad, both old
    /// ones stay in force.
    pub fn reload(&self) -> Result<(), DaemonError> {
        let fresh = load_policy(self.policy_file.as_deref())?;
        let declared = load_declarations(self.services_dir.as_deref())?;
        *self.policy.write() = fresh;
        self.sm.set_declared(declared);
        tracing::info!("policy and declarations reloaded");
        Ok(())
    }

    /// Stops the services it started (SIGTERM, then SIGKILL after [`STOP_GRACE`]), then the
    /// bus, and removes its socket.
    pub fn stop(self) {
        self.sm.stop_started(STOP_GRACE);
        self.rt.shutdown();
        drop(self.master);
    }
}

fn load_policy(file: Option<&Path>) -> Result<Policy, ConfigError> {
    let owner = nix::unistd::getuid().as_raw();
    match file {
        Some(f) => Policy::load(f, owner),
        None => Ok(Policy::owner_only(owner)),
    }
}

fn load_declarations(dir: Option<&Path>) -> Result<BTreeMap<String, Declaration>, ConfigError> {
    dir.map_or_else(|| Ok(BTreeMap::new()), activation::load_dir)
}

/// The policy as the bus master consults it.
struct BusPolicy(Arc<RwLock<Policy>>);

impl BusPolicy {
    fn verdict(&self, op: Op, who: &Credentials, name: &str) -> Verdict {
        if self.0.read().allows(op, who.uid, who.gid, name) {
            Verdict::Allow
        } else {
            Verdict::Deny
        }
    }
}

fn member(fields: &Fields) -> &str {
    fields.get("member").unwrap_or("")
}

impl afbus_transport::Policy for BusPolicy {
    fn own(&self, who: &PeerInfo, name: &WellKnownName) -> Verdict {
        self.verdict(Op::Own, &who.creds, name.as_str())
    }

    fn find(&self, who: &PeerInfo, name: &WellKnownName) -> Verdict {
        match name.as_str() {
            SERVICE_MANAGER_NAME => Verdict::Allow,
            n => self.verdict(Op::Find, &who.creds, n),
        }
    }

    fn connect(&self, who: &PeerInfo, _: &PeerInfo, name: Option<&WellKnownName>) -> Verdict {
        match name {
            // Everyone may reach the service manager; what it serves is checked there.
            Some(n) if n.as_str() == SERVICE_MANAGER_NAME => Verdict::Allow,
            Some(n) => self.verdict(Op::Call, &who.creds, n.as_str()),
            None => self.verdict(Op::Call, &who.creds, "*"),
        }
    }

    fn connection_quota(&self, _: &Credentials) -> usize {
        self.0.read().quota().connections_per_uid
    }

    fn multicast_send(&self, who: &PeerInfo, fields: &Fields) -> Verdict {
        self.verdict(Op::Send, &who.creds, member(fields))
    }

    fn multicast_subscribe(&self, _: &PeerInfo, _: &MatchRule) -> Verdict {
        // Checked per delivery, where the signal's member is known.
        Verdict::Allow
    }

    fn multicast_receive(&self, receiver: &PeerInfo, _: &PeerInfo, fields: &Fields) -> Verdict {
        self.verdict(Op::Receive, &receiver.creds, member(fields))
    }
}

/// A private bus in a temp dir, for tests and examples: its daemon runs inside this process
/// and stops, removing the directory, when the guard is dropped.
pub struct PrivateBus {
    daemon: Option<Daemon>,
    _dir: tempfile::TempDir,
}

impl PrivateBus {
    /// Starts a bus owned by this process's uid.
    pub fn start() -> Result<PrivateBus, DaemonError> {
        let dir = tempfile::tempdir().map_err(|source| DaemonError::Io {
            path: std::env::temp_dir(),
            source,
        })?;
        let opts = DaemonOptions {
            bus: dir.path().join("bus"),
            policy_file: None,
            services_dir: None,
        };
        let daemon = Daemon::start(&opts)?;
        Ok(PrivateBus {
            daemon: Some(daemon),
            _dir: dir,
        })
    }

    /// The bus socket's path.
    pub fn path(&self) -> &Path {
        self.daemon.as_ref().expect("running until dropped").path()
    }
}

impl Drop for PrivateBus {
    fn drop(&mut self) {
        if let Some(d) = self.daemon.take() {
            d.stop();
        }
    }
}
