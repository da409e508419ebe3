//! The bus master's policy hook: who may join, own, connect and multicast.

use crate::addr::WellKnownName;
use crate::proto::{Fields, MatchRule, PeerInfo};
use crate::sys::Credentials;

/// A policy decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Go ahead.
    Allow,
    /// Refuse with "permission denied".
    Deny,
}

/// Consulted by the master for every privileged operation. Identities are the kernel's
/// (`SO_PEERCRED` at join), never what a peer claims.
///
/// Every method defaults to [`Verdict::Allow`]; a policy overrides what it restricts.
pub trait Policy: Send {
    /// May this process join the bus?
    fn join(&self, _who: &Credentials) -> Verdict {
        Verdict::Allow
    }
    /// May `who` own `name`?
    fn own(&self, _who: &PeerInfo, _name: &WellKnownName) -> Verdict {
        Verdict::Allow
    }
    /// May `who` learn that `name` exists and who owns it (look it up, watch it, see it in
    /// the peer list, hear of its owner changing, or connect to it by name)?
    fn find(&self, _who: &PeerInfo, _name: &WellKnownName) -> Verdict {
        Verdict::Allow
    }
    /// May `who` open a channel to `target`, reached through `name` if it asked by name?
    fn connect(
        &self,
        _who: &PeerInfo,
        _target: &PeerInfo,
        _name: Option<&WellKnownName>,
    ) -> Verdict {
        Verdict::Allow
    }
    /// May `who` send a multicast signal with these fields?
    fn multicast_send(&self, _who: &PeerInfo, _fields: &Fields) -> Verdict {
        Verdict::Allow
    }
    /// May `who` subscribe with this rule?
    fn multicast_subscribe(&self, _who: &PeerInfo, _rule: &MatchRule) -> Verdict {
        Verdict::Allow
    }
    /// How many connections a uid may hold on the bus.
    fn connection_quota(&self, _who: &Credentials) -> usize {
        crate::master::MAX_CONNECTIONS_PER_UID
    }
    /// May `receiver` get this signal from `sender` (checked per delivery, after matching)?
    fn multicast_receive(
        &self,
        _receiver: &PeerInfo,
        _sender: &PeerInfo,
        _fields: &Fields,
    ) -> Verdict {
        Verdict::Allow
    }
}

/// A policy that allows everything (for private test buses).
#[derive(Clone, Copy, Debug, Default)]
pub struct AllowAll;

impl Policy for AllowAll {}
