//! The Zenoh keys bridges use. `<owner>` is the bridge that holds the object, `<peer>` the
//! bridge acting for the caller or holder; each is one key chunk.
//!
//! - `afbus/<owner>/call/<peer>/svc/<name>`: calls to an exported name (a queryable);
//!   `afbus/<owner>/call/<peer>/obj/<id>`: calls to an object given to `<peer>`;
//!   `afbus/<owner>/call/<peer>/find/<name>`: a look-up of an exported name.
//! - `afbus/<owner>/oneway/<peer>/...`: one-way calls, the same targets (puts, in order).
//! - `afbus/<owner>/live/<peer>/svc/<name>`: a liveliness token held while the exported
//!   service lives, one for each peer the policy lets find it;
//!   `afbus/<owner>/live/<peer>/obj/<id>`: the same for an object given to `<peer>`. A peer
//!   watches only `afbus/<owner>/live/<peer>/**`.
//! - `afbus/<owner>/sig/<peer>/<member>`: the bus signals with that `member` that `<owner>`
//!   sends `<peer>` (puts; one key per peer, so that each gets only what the policy lets it
//!   receive).
//! - `afbus/<peer>/...` is `<peer>`'s own; `afbus/<owner>/ref/<peer>/<id>`: a token `<peer>`
//!   holds while something on its bus holds the object.
//!
//! With TLS, each bridge's access control lets a peer query and put only under its own name
//! in the bridge's keys, and declare only under its own: the `<peer>` chunk of a call is
//! vouched for by the authenticated link, not by the caller's word.

/// What a call or one-way call is addressed to.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Target {
    /// An exported name.
    Service(String),
    /// An object given to the caller's bridge, by its id.
    Object(u64),
    /// The look-up of an exported name.
    Find(String),
}

impl Target {
    fn suffix(&self) -> String {
        match self {
            Target::Service(name) => format!("svc/{name}"),
            Target::Object(id) => format!("obj/{id:x}"),
            Target::Find(name) => format!("find/{name}"),
        }
    }
}

/// The key of a call from `peer` to `target` at `owner`.
pub fn call(owner: &str, peer: &str, target: &Target) -> String {
    format!("afbus/{owner}/call/{peer}/{}", target.suffix())
}

/// The key of a one-way call from `peer` to `target` at `owner`.
pub fn oneway(owner: &str, peer: &str, target: &Target) -> String {
    format!("afbus/{owner}/oneway/{peer}/{}", target.suffix())
}

/// Every call (`kind` = `call`) or one-way call (`oneway`) to `owner`.
pub fn all_to(owner: &str, kind: &str) -> String {
    format!("afbus/{owner}/{kind}/*/**")
}

/// Splits a call or one-way key addressed to `owner` into the calling peer and the target.
pub fn parse_call(owner: &str, key: &str) -> Option<(String, Target)> {
    let rest = key.strip_prefix("afbus/")?.strip_prefix(owner)?;
    let rest = rest
        .strip_prefix("/call/")
        .or_else(|| rest.strip_prefix("/oneway/"))?;
    let (peer, rest) = rest.split_once('/')?;
    let (kind, rest) = rest.split_once('/')?;
    let target = match kind {
        "svc" => Target::Service(rest.to_string()),
        "find" => Target::Find(rest.to_string()),
        "obj" => Target::Object(u64::from_str_radix(rest, 16).ok()?),
        _ => return None,
    };
    Some((peer.to_string(), target))
}

/// The liveliness token of an exported name, for `peer`.
pub fn live_service(owner: &str, peer: &str, name: &str) -> String {
    format!("afbus/{owner}/live/{peer}/svc/{name}")
}

/// The liveliness token of object `id` given to `peer`.
pub fn live_object(owner: &str, peer: &str, id: u64) -> String {
    format!("afbus/{owner}/live/{peer}/obj/{id:x}")
}

/// Every liveliness token `owner` holds for `peer`.
pub fn live_for(owner: &str, peer: &str) -> String {
    format!("afbus/{owner}/live/{peer}/**")
}

/// What a liveliness token under `afbus/<owner>/live/` says lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Live {
    /// An exported name of `owner`, for `peer`.
    Service {
        /// The exporting bridge.
        owner: String,
        /// The bridge it may be found by.
        peer: String,
        /// The name.
        name: String,
    },
    /// Object `id` of `owner`, given to `peer`.
    Object {
        /// The bridge holding it.
        owner: String,
        /// The bridge it was given to.
        peer: String,
        /// Its id.
        id: u64,
    },
}

/// Parses a liveliness key of [`live_service`] or [`live_object`].
pub fn parse_live(key: &str) -> Option<Live> {
    let rest = key.strip_prefix("afbus/")?;
    let (owner, rest) = rest.split_once("/live/")?;
    let (peer, rest) = rest.split_once('/')?;
    let (owner, peer) = (owner.to_string(), peer.to_string());
    match rest.split_once('/')? {
        ("svc", name) => Some(Live::Service {
            owner,
            peer,
            name: name.to_string(),
        }),
        ("obj", id) => Some(Live::Object {
            owner,
            peer,
            id: u64::from_str_radix(id, 16).ok()?,
        }),
        _ => None,
    }
}

/// The key of the signals with `member` that `owner` sends `peer`.
pub fn signal(owner: &str, peer: &str, member: &str) -> String {
    format!("afbus/{owner}/sig/{peer}/{member}")
}

/// The token `peer` holds while its bus holds object `id` of `owner`.
pub fn holder(owner: &str, peer: &str, id: u64) -> String {
    format!("afbus/{owner}/ref/{peer}/{id:x}")
}

/// Splits a [`holder`] key of `owner` into the holding peer and the object id.
pub fn parse_holder(owner: &str, key: &str) -> Option<(String, u64)> {
    let rest = key
        .strip_prefix("afbus/")?
        .strip_prefix(owner)?
        .strip_prefix("/ref/")?;
    let (peer, id) = rest.split_once('/')?;
    Some((peer.to_string(), u64::from_str_radix(id, 16).ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_read_back() {
        for t in [
            Target::Service("org.example/Echo".into()),
            Target::Object(0xdead_beef),
            Target::Find("x".into()),
        ] {
            assert_eq!(
                parse_call("a", &call("a", "b", &t)),
                Some(("b".into(), t.clone()))
            );
            assert_eq!(
                parse_call("a", &oneway("a", "b", &t)),
                Some(("b".into(), t.clone()))
            );
            assert_eq!(parse_call("ab", &call("a", "b", &t)), None);
        }
        assert_eq!(parse_call("a", "afbus/a/call/b/obj/zz"), None);
        assert_eq!(parse_call("a", "afbus/a/call/b/what/x"), None);
        assert_eq!(
            parse_live(&live_service("a", "b", "n/m")),
            Some(Live::Service {
                owner: "a".into(),
                peer: "b".into(),
                name: "n/m".into()
            })
        );
        // A peer named like a kind is still a peer.
        assert_eq!(
            parse_live(&live_object("a", "svc", 3)),
            Some(Live::Object {
                owner: "a".into(),
                peer: "svc".into(),
                id: 3
            })
        );
        assert_eq!(parse_live("afbus/a/live/b/what/3"), None);
        assert_eq!(
            parse_live(&live_object("a", "b", 17)),
            Some(Live::Object {
                owner: "a".into(),
                peer: "b".into(),
                id: 17
            })
        );
        assert_eq!(
            parse_holder("a", &holder("a", "b", 5)),
            Some(("b".into(), 5))
        );
        assert_eq!(parse_holder("a", &holder("c", "b", 5)), None);
    }
}
