//! The bridge's configuration file, and the Zenoh configuration made from it.
//!
//! ```toml
//! name = "hosta"                       # this bridge: its certificate's common name
//! bus = "/run/afbus/bus"               # default: as every afbus client finds its bus
//! policy = "/etc/afbus/policy.toml"    # the bus's policy; `remote` rules there say what each
//!                                      # peer may find and call (none: nothing)
//! peers = ["hostb"]                    # the peers that may connect, by certificate name
//! call_timeout_ms = 30000              # a bridged call with no reply by then: TIMED_OUT
//! objects_per_peer = 4096              # this bus's objects one peer may hold at once
//!
//! [zenoh]
//! listen = ["quic/0.0.0.0:7447"]
//! connect = ["quic/hostb.example:7447"]
//! lease_ms = 3000                      # a peer silent this long is dead
//!
//! [zenoh.tls]                          # mutual TLS (QUIC's TLS 1.3): every peer shows a
//!                                      # certificate of this CA
//! ca = "/etc/afbus/ca.pem"
//! cert = "/etc/afbus/hosta.pem"
//! key = "/etc/afbus/hosta.key"
//!
//! [[export]]                           # nothing is exported unless named here
//! name = "org.example.Echo"
//!
//! [[import]]                           # a peer's service as a name on this bus
//! from = "hostb"
//! name = "org.example.Clock"
//! as = "org.example.remote.Clock"      # default: the same name
//!
//! [[export_signal]]                    # bus signals with this `member` go to the peers the
//! member = "BatteryLow"                # policy lets `receive` it
//!
//! [[import_signal]]                    # a peer's signals with this `member`, sent on this bus
//! from = "hostb"                       # if the policy lets the peer `send` it
//! member = "Tick"
//! ```
//!
//! With `[zenoh.tls]` every endpoint is `quic/...`: Zenoh's `tls/` link is refused, because it
//! reads and writes one rustls stream from two tasks at once (zenoh issue 2557: links drop under
//! load, and worse). Without `[zenoh.tls]`, `insecure = true` must be said in `[zenoh]`: the link
//! is plain TCP or a unix socket and a peer is whoever it says it is (for tests on one machine
//! only).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde_json::{json, Value};

pub use afbus_servicemanager::ConfigError;

/// How long a bridged call waits for its reply unless the file says otherwise: as long as a
/// local call does.
pub const DEFAULT_CALL_TIMEOUT: Duration = afbus_binder::REPLY_TIMEOUT;
/// How long a peer may be silent before it is taken for dead, unless the file says otherwise.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(3);
/// How many of this bus's objects one peer may hold at once unless the file says otherwise;
/// past it, a call or reply that would give the peer another fails with `NO_MEMORY`.
pub const MAX_GIVEN_TO_PEER: usize = 4096;
/// The longest bridge or peer name: one chunk of a Zenoh key.
pub const MAX_PRINCIPAL_LEN: usize = 64;

/// A bridge's configuration, checked.
#[derive(Clone, Debug)]
pub struct Config {
    /// This bridge's name: its principal to its peers.
    pub name: String,
    /// The bus to join (`None`: the default bus, as `afbus_servicemanager::bus_path` finds it).
    pub bus: Option<PathBuf>,
    /// The bus policy whose `remote` rules apply to peers' calls (`None`: peers may do nothing).
    pub policy: Option<PathBuf>,
    /// The peers that may connect.
    pub peers: Vec<String>,
    /// How long a bridged call waits for its reply.
    pub call_timeout: Duration,
    /// How many of this bus's objects one peer may hold at once.
    pub objects_per_peer: usize,
    /// The Zenoh side.
    pub zenoh: ZenohConfig,
    /// The names exported to peers.
    pub exports: Vec<String>,
    /// The peers' names imported onto this bus.
    pub imports: Vec<Import>,
    /// The `member`s of the bus signals sent to peers.
    pub export_signals: Vec<String>,
    /// The peers' signals sent on this bus: (peer, `member`).
    pub import_signals: Vec<(String, String)>,
}

/// How this bridge meets its peers.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZenohConfig {
    /// Zenoh endpoints to listen on (`quic/ADDR:PORT`; `tcp/...` or `unixsock-stream/PATH` when
    /// insecure).
    #[serde(default)]
    pub listen: Vec<String>,
    /// Zenoh endpoints of peers to connect to.
    #[serde(default)]
    pub connect: Vec<String>,
    /// How long a silent peer lives on, in milliseconds.
    #[serde(default)]
    pub lease_ms: Option<u64>,
    /// Mutual TLS.
    #[serde(default)]
    pub tls: Option<Tls>,
    /// No authentication at all: peers are who they say they are.
    #[serde(default)]
    pub insecure: bool,
}

/// Mutual TLS: the CA every peer's certificate must chain to, and this bridge's own.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tls {
    /// The CA certificate (PEM).
    pub ca: PathBuf,
    /// This bridge's certificate (PEM); its common name is the bridge's `name`.
    pub cert: PathBuf,
    /// Its private key (PEM).
    pub key: PathBuf,
}

/// A peer's service shown on this bus.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Import {
    /// The peer exporting it.
    pub from: String,
    /// Its name there.
    pub name: String,
    /// Its name here.
    pub local_name: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    name: toml::Spanned<String>,
    bus: Option<PathBuf>,
    policy: Option<PathBuf>,
    #[serde(default)]
    peers: Vec<toml::Spanned<String>>,
    call_timeout_ms: Option<u64>,
    objects_per_peer: Option<usize>,
    zenoh: toml::Spanned<ZenohConfig>,
    #[serde(default)]
    export: Vec<RawExport>,
    #[serde(default)]
    import: Vec<RawImport>,
    #[serde(default)]
    export_signal: Vec<RawExportSignal>,
    #[serde(default)]
    import_signal: Vec<RawImportSignal>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExportSignal {
    member: toml::Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawImportSignal {
    from: toml::Spanned<String>,
    member: toml::Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExport {
    name: toml::Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawImport {
    from: toml::Spanned<String>,
    name: toml::Spanned<String>,
    #[serde(rename = "as")]
    local_name: Option<toml::Spanned<String>>,
}

impl Config {
    /// Reads and checks a configuration file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::io(path, e))?;
        Config::parse(&text, &path.display().to_string())
    }

    /// Checks configuration text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Config, ConfigError> {
        let at = |offset: usize, message: String| ConfigError::at(text, origin, offset, message);
        let file: File = toml::from_str(text).map_err(|e| {
            let offset = e.span().map_or(0, |s| s.start);
            at(offset, e.message().to_string())
        })?;
        let principal = |s: &toml::Spanned<String>| -> Result<String, ConfigError> {
            if valid_principal(s.get_ref()) {
                Ok(s.get_ref().clone())
            } else {
                Err(at(
                    s.span().start,
                    format!(
                        "{:?} is not a bridge name: 1 to {MAX_PRINCIPAL_LEN} letters, digits, \
                         '-', '_' or '.'",
                        s.get_ref()
                    ),
                ))
            }
        };
        let service = |s: &toml::Spanned<String>| -> Result<String, ConfigError> {
            if valid_service(s.get_ref()) {
                Ok(s.get_ref().clone())
            } else {
                Err(at(
                    s.span().start,
                    format!("{:?} is not a service name", s.get_ref()),
                ))
            }
        };
        let name = principal(&file.name)?;
        let peers = file
            .peers
            .iter()
            .map(principal)
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(p) = file.peers.iter().find(|p| *p.get_ref() == name) {
            return Err(at(p.span().start, "a bridge is not its own peer".into()));
        }
        let zenoh_span = file.zenoh.span();
        let zenoh = file.zenoh.into_inner();
        match (&zenoh.tls, zenoh.insecure) {
            (None, false) => {
                return Err(at(
                    zenoh_span.start,
                    "[zenoh] needs a [zenoh.tls] section (mutual TLS), or `insecure = true` \
                     to let peers be whoever they say they are"
                        .into(),
                ))
            }
            (Some(_), true) => {
                return Err(at(
                    zenoh_span.start,
                    "[zenoh] has both [zenoh.tls] and `insecure = true`".into(),
                ))
            }
            _ => {}
        }
        let secure = zenoh.tls.is_some();
        for endpoint in zenoh.listen.iter().chain(&zenoh.connect) {
            let scheme = endpoint.split('/').next().unwrap_or_default();
            let allowed: &[&str] = if secure {
                &["quic"]
            } else {
                &["tcp", "unixsock-stream"]
            };
            if !allowed.contains(&scheme) {
                let why = if scheme == "tls" {
                    "Zenoh's tls link races reads against writes on one TLS stream (zenoh issue \
                     2557); use quic/, which is mutual TLS too"
                } else if secure {
                    "with [zenoh.tls] every endpoint is quic/"
                } else {
                    "without TLS an endpoint is tcp/ or unixsock-stream/"
                };
                return Err(at(
                    zenoh_span.start,
                    format!("endpoint {endpoint:?}: {why}"),
                ));
            }
        }
        let exports = file
            .export
            .iter()
            .map(|e| service(&e.name))
            .collect::<Result<Vec<_>, _>>()?;
        let member = |s: &toml::Spanned<String>| -> Result<String, ConfigError> {
            if valid_member(s.get_ref()) {
                Ok(s.get_ref().clone())
            } else {
                Err(at(
                    s.span().start,
                    format!(
                        "{:?} is not a signal member: 1 to {} letters, digits, '-', '_' or '.'",
                        s.get_ref(),
                        afbus_transport::MAX_FIELD_LEN
                    ),
                ))
            }
        };
        let export_signals = file
            .export_signal
            .iter()
            .map(|e| member(&e.member))
            .collect::<Result<Vec<_>, _>>()?;
        let mut import_signals = Vec::new();
        for i in &file.import_signal {
            let from = principal(&i.from)?;
            if !peers.contains(&from) {
                return Err(at(
                    i.from.span().start,
                    format!("signals from {from:?}, which is not in `peers`"),
                ));
            }
            import_signals.push((from, member(&i.member)?));
        }
        let mut imports = Vec::new();
        for i in &file.import {
            let from = principal(&i.from)?;
            if !peers.contains(&from) {
                return Err(at(
                    i.from.span().start,
                    format!("import from {from:?}, which is not in `peers`"),
                ));
            }
            let name = service(&i.name)?;
            let local_name = match &i.local_name {
                Some(l) => service(l)?,
                None => name.clone(),
            };
            imports.push(Import {
                from,
                name,
                local_name,
            });
        }
        Ok(Config {
            name,
            bus: file.bus,
            policy: file.policy,
            peers,
            call_timeout: file
                .call_timeout_ms
                .map_or(DEFAULT_CALL_TIMEOUT, Duration::from_millis),
            objects_per_peer: file.objects_per_peer.unwrap_or(MAX_GIVEN_TO_PEER),
            zenoh,
            exports,
            imports,
            export_signals,
            import_signals,
        })
    }

    /// The Zenoh session's configuration (JSON5 as `zenoh::Config::from_json5` reads it): a
    /// peer that listens and connects where told, does no multicast scouting, and, with TLS,
    /// takes only links with a certificate of the CA and lets each peer reach only its own
    /// keys (see [`crate::keys`]).
    pub fn zenoh_json(&self) -> Value {
        let lease = self
            .zenoh
            .lease_ms
            .unwrap_or(DEFAULT_LEASE.as_millis() as u64);
        let mut config = json!({
            "mode": "peer",
            "listen": { "endpoints": self.zenoh.listen },
            "connect": { "endpoints": self.zenoh.connect },
            "scouting": {
                "multicast": { "enabled": false },
                "gossip": { "enabled": false },
            },
            "transport": { "link": {
                "tx": { "lease": lease },
                // Nothing larger than a bridged payload is read from a peer.
                "rx": { "max_message_size": crate::envelope::MAX_BRIDGED_BYTES + 1024 * 1024 },
            } },
        });
        if let Some(tls) = &self.zenoh.tls {
            let path = |p: &Path| p.display().to_string();
            config["transport"]["link"]["protocols"] = json!(["quic"]);
            config["transport"]["link"]["tls"] = json!({
                "root_ca_certificate": path(&tls.ca),
                "listen_certificate": path(&tls.cert),
                "listen_private_key": path(&tls.key),
                "connect_certificate": path(&tls.cert),
                "connect_private_key": path(&tls.key),
                "enable_mtls": true,
                "verify_name_on_connect": false,
            });
            config["access_control"] = self.access_control();
        }
        config
    }

    /// Zenoh's access control for this bridge: deny by default; each peer, known by its
    /// certificate's common name, may query and send one-way calls only under its own name in
    /// this bridge's keys, and declare and answer only under its own keys.
    fn access_control(&self) -> Value {
        let me = &self.name;
        let mut rules = Vec::new();
        let mut subjects = Vec::new();
        let mut policies = Vec::new();
        for (i, peer) in self.peers.iter().enumerate() {
            // What goes out to the peer: declarations of what this bridge serves and watches,
            // and only the calls, replies, signals and tokens that are the peer's business (not
            // which objects other peers hold, nor which names they may find).
            let declared = format!("decl{i}");
            rules.push(json!({
                "id": declared,
                "permission": "allow",
                "flows": ["egress"],
                "messages": ["declare_queryable", "declare_subscriber",
                             "declare_liveliness_subscriber", "liveliness_query"],
                "key_exprs": [
                    format!("afbus/{me}/call/**"),
                    format!("afbus/{me}/oneway/**"),
                    format!("afbus/{peer}/sig/{me}/**"),
                    format!("afbus/{peer}/live/{me}/**"),
                    format!("afbus/{me}/ref/**"),
                ],
            }));
            let out = format!("out{i}");
            rules.push(json!({
                "id": out,
                "permission": "allow",
                "flows": ["egress"],
                "messages": ["query", "put", "reply", "liveliness_token"],
                "key_exprs": [
                    format!("afbus/{peer}/call/{me}/**"),
                    format!("afbus/{peer}/oneway/{me}/**"),
                    format!("afbus/{me}/call/{peer}/**"),
                    format!("afbus/{me}/sig/{peer}/**"),
                    format!("afbus/{me}/live/{peer}/**"),
                    format!("afbus/{peer}/ref/{me}/**"),
                ],
            }));
            let subject = format!("peer{i}");
            let rule = format!("in{i}");
            rules.push(json!({
                "id": rule,
                "permission": "allow",
                "flows": ["ingress"],
                "messages": ["query", "put", "liveliness_token"],
                "key_exprs": [
                    format!("afbus/{me}/call/{peer}/**"),
                    format!("afbus/{me}/oneway/{peer}/**"),
                    format!("afbus/{me}/ref/{peer}/**"),
                ],
            }));
            let own = format!("own{i}");
            rules.push(json!({
                "id": own,
                "permission": "allow",
                "flows": ["ingress"],
                "messages": ["declare_queryable", "declare_subscriber", "reply",
                             "liveliness_token"],
                "key_exprs": [format!("afbus/{peer}/**")],
            }));
            let signals = format!("sig{i}");
            rules.push(json!({
                "id": signals,
                "permission": "allow",
                "flows": ["ingress"],
                "messages": ["put"],
                "key_exprs": [format!("afbus/{peer}/sig/{me}/**")],
            }));
            let subscribe = format!("sub{i}");
            rules.push(json!({
                "id": subscribe,
                "permission": "allow",
                "flows": ["ingress"],
                "messages": ["declare_subscriber"],
                "key_exprs": [format!("afbus/{me}/sig/{peer}/**")],
            }));
            let watch = format!("watch{i}");
            rules.push(json!({
                "id": watch,
                "permission": "allow",
                "flows": ["ingress"],
                "messages": ["declare_liveliness_subscriber", "liveliness_query"],
                "key_exprs": [
                    format!("afbus/{me}/live/{peer}/**"),
                    format!("afbus/{peer}/ref/**"),
                ],
            }));
            subjects.push(json!({ "id": subject, "cert_common_names": [peer] }));
            policies.push(json!({
                "rules": [declared, out, rule, own, signals, subscribe, watch],
                "subjects": [subject],
            }));
        }
        json!({
            "enabled": true,
            "default_permission": "deny",
            "rules": rules,
            "subjects": subjects,
            "policies": policies,
        })
    }
}

/// A bridge name: one Zenoh key chunk with nothing special in it.
pub fn valid_principal(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_PRINCIPAL_LEN
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

/// A signal `member` that is one Zenoh key chunk.
pub fn valid_member(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= afbus_transport::MAX_FIELD_LEN
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

/// A bus service name whose `/`-separated parts are each a Zenoh key chunk.
pub fn valid_service(s: &str) -> bool {
    afbus_servicemanager::registry::valid_name(s) && s.split('/').all(|c| !c.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
name = "hosta"
peers = ["hostb"]
[zenoh]
listen = ["quic/127.0.0.1:7447"]
[zenoh.tls]
ca = "ca.pem"
cert = "a.pem"
key = "a.key"
[[export]]
name = "org.example.Echo"
[[import]]
from = "hostb"
name = "org.example.Clock"
as = "remote/Clock"
"#;

    #[test]
    fn a_file_reads() {
        let c = Config::parse(GOOD, "b.toml").unwrap();
        assert_eq!(c.name, "hosta");
        assert_eq!(c.exports, ["org.example.Echo"]);
        assert_eq!(
            c.imports,
            [Import {
                from: "hostb".into(),
                name: "org.example.Clock".into(),
                local_name: "remote/Clock".into(),
            }]
        );
        assert_eq!(c.call_timeout, DEFAULT_CALL_TIMEOUT);
        let z = c.zenoh_json();
        assert_eq!(z["transport"]["link"]["tls"]["enable_mtls"], true);
        assert_eq!(z["access_control"]["default_permission"], "deny");
        assert_eq!(
            z["access_control"]["subjects"][0]["cert_common_names"][0],
            "hostb"
        );
        let rules = z["access_control"]["rules"].as_array().unwrap();
        let ingress = rules.iter().find(|r| r["id"] == "in0").unwrap();
        assert_eq!(ingress["key_exprs"][0], "afbus/hosta/call/hostb/**");
        assert!(
            rules.iter().all(|r| r["key_exprs"]
                .as_array()
                .unwrap()
                .iter()
                .all(|k| k != "afbus/**")),
            "no rule is for every key"
        );
    }

    #[test]
    fn mistakes_are_named_where_they_are() {
        let cases = [
            (GOOD.replace("hosta", "host/a"), 2, "not a bridge name"),
            (
                GOOD.replace("name = \"org.example.Echo\"", "name = \"a//b\""),
                11,
                "service name",
            ),
            (
                GOOD.replace("from = \"hostb\"", "from = \"hostc\""),
                13,
                "not in `peers`",
            ),
            (GOOD.replace("quic/", "tls/"), 4, "zenoh issue 2557"),
            (GOOD.replace("quic/", "tcp/"), 4, "every endpoint is quic/"),
            (
                GOOD.replace("[zenoh.tls]", "[zenoh.tlz]"),
                6,
                "unknown field",
            ),
            (
                GOOD.replace("peers = [\"hostb\"]", "peers = [\"hosta\"]"),
                3,
                "its own peer",
            ),
            (
                GOOD.replace(
                    "[zenoh.tls]\nca = \"ca.pem\"\ncert = \"a.pem\"\nkey = \"a.key\"\n",
                    "",
                ),
                4,
                "needs a [zenoh.tls]",
            ),
        ];
        for (text, line, message) in cases {
            let e = Config::parse(&text, "b.toml").unwrap_err();
            assert_eq!(e.line, line, "{e}");
            assert!(e.message.contains(message), "{e}");
        }
    }

    #[test]
    fn the_shipped_file_reads() {
        let text = include_str!("../../dist/bridge.toml");
        let c = Config::parse(text, "dist/bridge.toml").unwrap();
        assert!(c.exports.is_empty() && c.imports.is_empty());
    }

    #[test]
    fn insecure_must_be_said() {
        let text = "name = \"a\"\n[zenoh]\ninsecure = true\nlisten = [\"tcp/127.0.0.1:0\"]\n";
        let c = Config::parse(text, "b.toml").unwrap();
        assert!(c.zenoh_json().get("access_control").is_none());
        assert!(c.exports.is_empty(), "nothing is exported by default");
    }
}
