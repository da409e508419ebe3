//! Bus addresses, after the simplified AF_BUS design's `sockaddr_bus`: a bus path and 64-bit
//! address components.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::bloom::Bloom;
use crate::error::{Error, Result};

/// Longest well-known name, in bytes (D-Bus's limit).
pub const MAX_NAME_LEN: usize = 255;

/// A unique address, assigned by the master at join and never reused on a bus. Zero is the master.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UniqueId(pub u64);

impl fmt::Display for UniqueId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, ":{}", self.0)
    }
}

impl FromStr for UniqueId {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        s.strip_prefix(':')
            .and_then(|n| n.parse::<u64>().ok())
            .filter(|&n| n != 0)
            .map(UniqueId)
            .ok_or_else(|| invalid("unique address", s, "expected ':' and a nonzero integer"))
    }
}

/// A validated well-known name such as `org.example.Echo`.
///
/// Two or more dot-separated elements of `[A-Za-z0-9_-]`, no element empty or starting with a
/// digit, at most [`MAX_NAME_LEN`] bytes.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WellKnownName(String);

impl WellKnownName {
    /// Validates `name`.
    pub fn new(name: impl Into<String>) -> Result<Self> {
        let name = name.into();
        let reason = if name.len() > MAX_NAME_LEN {
            Some("longer than 255 bytes")
        } else if name.split('.').count() < 2 {
            Some("needs at least two dot-separated elements")
        } else if name.split('.').any(|e| e.is_empty()) {
            Some("has an empty element")
        } else if name
            .split('.')
            .any(|e| e.starts_with(|c: char| c.is_ascii_digit()))
        {
            Some("has an element starting with a digit")
        } else if !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        {
            Some("allows only ASCII letters, digits, '_', '-' and '.'")
        } else {
            None
        };
        match reason {
            Some(r) => Err(invalid("well-known name", &name, r)),
            None => Ok(WellKnownName(name)),
        }
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for WellKnownName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for WellKnownName {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        WellKnownName::new(s)
    }
}

/// What an address points at on its bus.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Target {
    /// The bus master itself (no address components).
    Master,
    /// One endpoint (one component).
    Unique(UniqueId),
    /// A well-known name, mapped by the master to its owner's unique address.
    Name(WellKnownName),
    /// A multicast group (eight components: a 512-bit Bloom filter).
    Multicast(Bloom),
}

/// A full bus address: the bus's socket path and a target on it.
///
/// Text form: `afbus:TARGET@PATH` where TARGET is `master`, `unique=N`, `name=NAME` or
/// `bloom=HEX` (128 hex digits), and PATH is everything after the first `@`.
///
/// ```
/// use afbus_transport::{BusAddr, Target, UniqueId};
/// let a: BusAddr = "afbus:unique=42@/run/afbus/bus".parse().unwrap();
/// assert_eq!(a.target, Target::Unique(UniqueId(42)));
/// assert_eq!(a.components(), vec![42]);
/// assert_eq!(a.to_string(), "afbus:unique=42@/run/afbus/bus");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct BusAddr {
    /// The bus's socket path.
    pub bus: PathBuf,
    /// The target on that bus.
    pub target: Target,
}

impl BusAddr {
    /// The master of the bus at `bus`.
    pub fn master(bus: impl AsRef<Path>) -> BusAddr {
        BusAddr {
            bus: bus.as_ref().to_owned(),
            target: Target::Master,
        }
    }

    /// The 64-bit address components, as `sockaddr_bus` carries them (empty for names).
    pub fn components(&self) -> Vec<u64> {
        match &self.target {
            Target::Master | Target::Name(_) => Vec::new(),
            Target::Unique(u) => vec![u.0],
            Target::Multicast(b) => b.0.to_vec(),
        }
    }
}

impl fmt::Display for BusAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("afbus:")?;
        match &self.target {
            Target::Master => f.write_str("master")?,
            Target::Unique(u) => write!(f, "unique={}", u.0)?,
            Target::Name(n) => write!(f, "name={n}")?,
            Target::Multicast(b) => write!(f, "bloom={b}")?,
        }
        write!(f, "@{}", self.bus.display())
    }
}

impl FromStr for BusAddr {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let rest = s
            .strip_prefix("afbus:")
            .ok_or_else(|| invalid("bus address", s, "must start with 'afbus:'"))?;
        let (target, path) = rest
            .split_once('@')
            .ok_or_else(|| invalid("bus address", s, "missing '@PATH'"))?;
        if path.is_empty() {
            return Err(invalid("bus address", s, "empty bus path"));
        }
        let target = match target.split_once('=') {
            None if target == "master" => Target::Master,
            Some(("unique", n)) => Target::Unique(format!(":{n}").parse()?),
            Some(("name", n)) => Target::Name(n.parse()?),
            Some(("bloom", hex)) => Target::Multicast(parse_bloom(hex)?),
            _ => return Err(invalid("bus address", s, "unknown target kind")),
        };
        Ok(BusAddr {
            bus: PathBuf::from(path),
            target,
        })
    }
}

fn parse_bloom(hex: &str) -> Result<Bloom> {
    let bad = || invalid("bloom filter", hex, "expected 128 hex digits");
    if hex.len() != 128 || !hex.is_ascii() {
        return Err(bad());
    }
    let mut b = Bloom::EMPTY;
    for (i, c) in b.0.iter_mut().enumerate() {
        *c = u64::from_str_radix(&hex[i * 16..(i + 1) * 16], 16).map_err(|_| bad())?;
    }
    Ok(b)
}

fn invalid(what: &'static str, text: &str, reason: &'static str) -> Error {
    Error::Invalid {
        what,
        text: text.to_owned(),
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let bloom = Bloom::of([("member", "Changed")]);
        for target in [
            Target::Master,
            Target::Unique(UniqueId(7)),
            Target::Name(WellKnownName::new("org.example.Echo").unwrap()),
            Target::Multicast(bloom),
        ] {
            let a = BusAddr {
                bus: "/tmp/x@y/bus".into(),
                target,
            };
            assert_eq!(a.to_string().parse::<BusAddr>().unwrap(), a);
        }
        assert_eq!(BusAddr::master("/b").components(), Vec::<u64>::new());
        assert_eq!(
            BusAddr {
                bus: "/b".into(),
                target: Target::Multicast(bloom)
            }
            .components()
            .len(),
            8
        );
    }

    #[test]
    fn refuses_bad_text() {
        for bad in [
            "unique=1@/b",
            "afbus:unique=0@/b",
            "afbus:unique=x@/b",
            "afbus:name=single@/b",
            "afbus:name=a..b@/b",
            "afbus:name=a.1b@/b",
            "afbus:bloom=00@/b",
            "afbus:master@",
            "afbus:other=1@/b",
        ] {
            assert!(bad.parse::<BusAddr>().is_err(), "{bad}");
        }
        assert!(WellKnownName::new("a.".repeat(127) + "bb").is_err());
        assert!(WellKnownName::new("org.example-x.Echo_2").is_ok());
    }
}
