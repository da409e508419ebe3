//! The bus policy: a TOML file compiled once into rules, evaluated as a pure function.
//!
//! ```toml
//! # The bus owner (default: the daemon's uid) and root may do everything, others nothing,
//! # unless a rule allows it. A deny rule wins over every allow rule.
//! owner_uid = 1000
//!
//! [[allow]]
//! user = "nobody"            # or uid = 65534, group = "...", gid = ...; none: everyone
//! own = ["org.example.*"]    # register (or own on the bus) these names
//! find = ["*"]               # look these names up
//! call = ["*"]               # open channels to these names
//! send = ["*"]               # multicast with these `member` fields
//! receive = ["*"]            # receive multicast with these `member` fields
//!
//! [[deny]]
//! uid = 1234
//! find = ["secret.*"]
//!
//! [[allow]]
//! remote = "hostb"           # a peer of afbus-bridge, by its certificate's name (glob)
//! find = ["org.example.*"]   # remote rules name no uid or gid, and only they apply to
//! call = ["org.example.*"]   # remote callers: a rule for everyone is for local uids
//!
//! [quota]                    # per uid; each defaults to its named limit
//! connections_per_uid = 256  # MAX_CONNECTIONS_PER_UID
//! services_per_uid = 50000   # MAX_SERVICES_PER_UID
//! ```

use std::fmt;
use std::path::Path;

use serde::Deserialize;

/// What a caller wants to do with a name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// Register or own the name.
    Own,
    /// Look the name up.
    Find,
    /// Open a channel to the name's owner.
    Call,
    /// Multicast with this `member`.
    Send,
    /// Receive multicast with this `member`.
    Receive,
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Op::Own => "own",
            Op::Find => "find",
            Op::Call => "call",
            Op::Send => "send",
            Op::Receive => "receive",
        })
    }
}

/// A policy or activation file that does not compile: where and why.
#[derive(Debug, thiserror::Error)]
#[error("{}", self.render())]
pub struct ConfigError {
    /// The file.
    pub path: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub col: usize,
    /// The problem.
    pub message: String,
}

impl ConfigError {
    /// `path:line:col: message`, or `path: cannot read it: message` for a file not read at all.
    fn render(&self) -> String {
        if self.line == 0 {
            format!("{}: cannot read it: {}", self.path, self.message)
        } else {
            format!("{}:{}:{}: {}", self.path, self.line, self.col, self.message)
        }
    }

    /// An error at byte `offset` of `text`, read from `origin` (line and column counted from
    /// 1), for any configuration file of the bus.
    pub fn at(text: &str, origin: &str, offset: usize, message: String) -> ConfigError {
        let before = &text[..offset.min(text.len())];
        let line = before.matches('\n').count() + 1;
        let col = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
        ConfigError {
            path: origin.to_owned(),
            line,
            col,
            message,
        }
    }

    /// An error reading `path` at all.
    pub fn io(path: &Path, e: std::io::Error) -> ConfigError {
        ConfigError {
            path: path.display().to_string(),
            line: 0,
            col: 0,
            message: e.to_string(),
        }
    }
}

/// Parses TOML into `T`, with errors at their line and column.
pub(crate) fn parse_toml<T: serde::de::DeserializeOwned>(
    text: &str,
    origin: &str,
) -> Result<T, ConfigError> {
    toml::from_str(text).map_err(|e| {
        ConfigError::at(
            text,
            origin,
            e.span().map_or(0, |s| s.start),
            e.message().to_owned(),
        )
    })
}

/// The uid and gid of a user name, for errors at `span` of `text`.
pub(crate) fn lookup_user(
    user: &toml::Spanned<String>,
    text: &str,
    origin: &str,
) -> Result<(u32, u32), ConfigError> {
    let u = nix::unistd::User::from_name(user.get_ref()).ok().flatten();
    let u = u.ok_or_else(|| {
        ConfigError::at(
            text,
            origin,
            user.span().start,
            format!("unknown user {:?}", user.get_ref()),
        )
    })?;
    Ok((u.uid.as_raw(), u.gid.as_raw()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    owner_uid: Option<u32>,
    #[serde(default)]
    quota: Quota,
    #[serde(default)]
    allow: Vec<RawRule>,
    #[serde(default)]
    deny: Vec<RawRule>,
}

/// Per-uid quotas; each defaults to its named limit.
#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Quota {
    /// Connections one uid may hold on the bus.
    pub connections_per_uid: usize,
    /// Services one uid may register.
    pub services_per_uid: usize,
}

impl Default for Quota {
    fn default() -> Quota {
        Quota {
            connections_per_uid: afbus_transport::MAX_CONNECTIONS_PER_UID,
            services_per_uid: crate::registry::MAX_SERVICES_PER_UID,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    uid: Option<u32>,
    gid: Option<u32>,
    user: Option<toml::Spanned<String>>,
    group: Option<toml::Spanned<String>>,
    remote: Option<toml::Spanned<String>>,
    #[serde(default)]
    own: Vec<String>,
    #[serde(default)]
    find: Vec<String>,
    #[serde(default)]
    call: Vec<String>,
    #[serde(default)]
    send: Vec<String>,
    #[serde(default)]
    receive: Vec<String>,
}

#[derive(Clone, Debug, Default)]
struct Rule {
    uid: Option<u32>,
    gid: Option<u32>,
    /// A pattern on the remote principal: the rule is for bridged callers only.
    remote: Option<String>,
    /// Patterns per op, in `Op` order.
    patterns: [Vec<String>; 5],
}

/// A compiled policy.
#[derive(Clone, Debug)]
pub struct Policy {
    owner_uid: u32,
    quota: Quota,
    allow: Vec<Rule>,
    deny: Vec<Rule>,
}

impl Policy {
    /// The default: the owner and root may do everything, others nothing.
    pub fn owner_only(owner_uid: u32) -> Policy {
        Policy {
            owner_uid,
            quota: Quota::default(),
            allow: Vec::new(),
            deny: Vec::new(),
        }
    }

    /// Everyone may do everything (private test buses).
    pub fn allow_all() -> Policy {
        let all = || vec!["*".to_string()];
        let rule = Rule {
            uid: None,
            gid: None,
            remote: None,
            patterns: [all(), all(), all(), all(), all()],
        };
        Policy {
            owner_uid: 0,
            quota: Quota::default(),
            allow: vec![rule],
            deny: Vec::new(),
        }
    }

    /// Reads and compiles a policy file; `owner_uid` is the default bus owner.
    pub fn load(path: &Path, owner_uid: u32) -> Result<Policy, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::io(path, e))?;
        Policy::parse(&text, &path.display().to_string(), owner_uid)
    }

    /// Compiles policy text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str, owner_uid: u32) -> Result<Policy, ConfigError> {
        let at = |offset: usize, message: String| ConfigError::at(text, origin, offset, message);
        let file: File = parse_toml(text, origin)?;
        let compile = |raw: RawRule| -> Result<Rule, ConfigError> {
            let mut uid = raw.uid;
            let mut gid = raw.gid;
            let remote = match raw.remote {
                Some(remote)
                    if uid.is_some()
                        || gid.is_some()
                        || raw.user.is_some()
                        || raw.group.is_some() =>
                {
                    return Err(at(
                        remote.span().start,
                        "a `remote` rule is for bridged callers and names no uid, gid, user \
                         or group"
                            .to_string(),
                    ));
                }
                Some(remote) => Some(remote.into_inner()),
                None => None,
            };
            if let Some(user) = raw.user {
                uid = Some(lookup_user(&user, text, origin)?.0);
            }
            if let Some(group) = raw.group {
                let g = nix::unistd::Group::from_name(group.get_ref())
                    .ok()
                    .flatten();
                let g = g.ok_or_else(|| {
                    at(
                        group.span().start,
                        format!("unknown group {:?}", group.get_ref()),
                    )
                })?;
                gid = Some(g.gid.as_raw());
            }
            Ok(Rule {
                uid,
                gid,
                remote,
                patterns: [raw.own, raw.find, raw.call, raw.send, raw.receive],
            })
        };
        Ok(Policy {
            owner_uid: file.owner_uid.unwrap_or(owner_uid),
            quota: file.quota,
            allow: file
                .allow
                .into_iter()
                .map(compile)
                .collect::<Result<_, _>>()?,
            deny: file
                .deny
                .into_iter()
                .map(compile)
                .collect::<Result<_, _>>()?,
        })
    }

    /// May a caller with `uid` and `gid` do `op` on `name`?
    pub fn allows(&self, op: Op, uid: u32, gid: u32, name: &str) -> bool {
        let hits = |rules: &[Rule]| rules.iter().any(|r| r.matches(op, uid, gid, name));
        if hits(&self.deny) {
            return false;
        }
        uid == self.owner_uid || uid == 0 || hits(&self.allow)
    }

    /// May the remote principal `principal` (a peer bus's bridge, as its authenticated name)
    /// do `op` on `name`? Only rules that name a `remote` pattern apply, and nothing is
    /// allowed unless one does: no remote principal is the bus owner.
    pub fn allows_remote(&self, op: Op, principal: &str, name: &str) -> bool {
        let hits = |rules: &[Rule]| {
            rules.iter().any(|r| {
                r.remote.as_deref().is_some_and(|p| glob(p, principal))
                    && r.patterns[op as usize].iter().any(|p| glob(p, name))
            })
        };
        !hits(&self.deny) && hits(&self.allow)
    }

    /// The per-uid quotas.
    pub fn quota(&self) -> Quota {
        self.quota
    }

    /// The bus owner's uid.
    pub fn owner_uid(&self) -> u32 {
        self.owner_uid
    }
}

impl Rule {
    fn matches(&self, op: Op, uid: u32, gid: u32, name: &str) -> bool {
        self.remote.is_none()
            && self.uid.is_none_or(|u| u == uid)
            && self.gid.is_none_or(|g| g == gid)
            && self.patterns[op as usize].iter().any(|p| glob(p, name))
    }
}

/// `*` matches any run of characters; everything else matches itself.
fn glob(pattern: &str, name: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == name,
        Some((head, tail)) => {
            name.starts_with(head)
                && (0..=name.len() - head.len())
                    .filter(|&i| name.is_char_boundary(head.len() + i))
                    .any(|i| glob(tail, &name[head.len() + i..]))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_and_root_by_default_nobody_else() {
        let p = Policy::owner_only(1000);
        assert!(p.allows(Op::Own, 1000, 1000, "a.b"));
        assert!(p.allows(Op::Find, 0, 0, "a.b"));
        assert!(!p.allows(Op::Find, 65534, 65534, "a.b"));
    }

    #[test]
    fn rules_allow_and_deny_wins() {
        let text = r#"
owner_uid = 1000
[[allow]]
uid = 65534
find = ["org.example.*"]
own = ["org.example.Mine"]
[[allow]]
find = ["public.*"]
[[deny]]
gid = 7
find = ["org.example.Secret"]
"#;
        let p = Policy::parse(text, "test.toml", 0).unwrap();
        assert!(p.allows(Op::Find, 65534, 65534, "org.example.Echo"));
        assert!(!p.allows(Op::Find, 65534, 65534, "org.other.Echo"));
        assert!(p.allows(Op::Own, 65534, 1, "org.example.Mine"));
        assert!(!p.allows(Op::Own, 65534, 1, "org.example.Other"));
        assert!(
            p.allows(Op::Find, 4321, 4321, "public.thing"),
            "a rule without subject is for everyone"
        );
        assert!(!p.allows(Op::Find, 65534, 7, "org.example.Secret"));
        assert!(
            !p.allows(Op::Find, 1000, 7, "org.example.Secret"),
            "deny wins even for the owner"
        );
    }

    #[test]
    fn remote_rules_apply_to_remote_principals_only() {
        let text = r#"
[[allow]]
find = ["*"]
call = ["*"]
[[allow]]
remote = "host*"
find = ["org.example.*"]
call = ["org.example.*"]
[[deny]]
remote = "hostz"
call = ["*"]
"#;
        let p = Policy::parse(text, "test.toml", 1000).unwrap();
        assert!(p.allows_remote(Op::Find, "hostb", "org.example.Echo"));
        assert!(p.allows_remote(Op::Call, "hostb", "org.example.Echo"));
        assert!(
            !p.allows_remote(Op::Find, "hostb", "org.other.Echo"),
            "the rule for everyone is for local uids only"
        );
        assert!(!p.allows_remote(Op::Find, "other", "org.example.Echo"));
        assert!(p.allows_remote(Op::Find, "hostz", "org.example.Echo"));
        assert!(
            !p.allows_remote(Op::Call, "hostz", "org.example.Echo"),
            "deny wins"
        );
        assert!(
            !Policy::owner_only(0).allows_remote(Op::Find, "hostb", "x"),
            "no remote principal is allowed anything by default"
        );
        assert!(
            p.allows(Op::Find, 4321, 4321, "x"),
            "a remote rule leaves local uids to the local rules"
        );
        let e = Policy::parse("[[allow]]\nuid = 1\nremote = \"b\"\n", "p.toml", 0).unwrap_err();
        assert_eq!((e.line, e.col), (3, 10), "{e}");
        assert!(e.message.contains("names no uid"), "{e}");
    }

    #[test]
    fn errors_name_the_file_line_and_problem() {
        let e = Policy::parse("[[allow]]\nuid = 1\nfnid = [\"x\"]\n", "p.toml", 0).unwrap_err();
        assert_eq!((e.path.as_str(), e.line), ("p.toml", 3), "{e}");
        assert!(e.message.contains("fnid"), "{e}");
        let e =
            Policy::parse("[[allow]]\nuser = \"no-such-user-here\"\n", "p.toml", 0).unwrap_err();
        assert_eq!((e.line, e.col), (2, 8), "{e}");
        assert!(e.to_string().starts_with("p.toml:2:8: unknown user"), "{e}");
        assert!(Policy::parse("owner_uid = \"x\"", "p.toml", 0).is_err());
    }

    #[test]
    fn globs() {
        assert!(glob("*", "anything"));
        assert!(glob("org.*", "org.x"));
        assert!(glob("*.Echo", "org.x.Echo"));
        assert!(glob("a*b*c", "aXXbYYc"));
        assert!(!glob("a*b*c", "aXXbYY"));
        assert!(!glob("org.x", "org.xy"));
    }
}
