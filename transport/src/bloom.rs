//! 512-bit Bloom filters: the address of a multicast group.

use std::fmt;

/// Bits in a multicast Bloom filter (8 address components of 64 bits).
pub const BLOOM_BITS: usize = 512;

/// Bits set per (key, value) pair. Four keeps the false-positive rate near 2% with 16 pairs
/// in 512 bits, and false positives cost only an exact comparison in the master.
pub const BLOOM_HASHES: u32 = 4;

/// A 512-bit Bloom filter over `key=value` fields.
///
/// Bit positions are `(h1 + i * h2) mod 512` for `i` in `0..4`, with `h1` and `h2` the 64-bit
/// FNV-1a hashes of `key`, a zero byte, then `value`, from two offset bases: any implementation can
/// compute the same filter.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Bloom(pub [u64; 8]);

const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;
const FNV_BASIS_1: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_BASIS_2: u64 = 0x8422_2325_cbf2_9ce4;

fn fnv1a(basis: u64, parts: &[&[u8]]) -> u64 {
    parts
        .iter()
        .flat_map(|p| p.iter())
        .fold(basis, |h, &b| (h ^ u64::from(b)).wrapping_mul(FNV_PRIME))
}

impl Bloom {
    /// The empty filter.
    pub const EMPTY: Bloom = Bloom([0; 8]);

    /// The filter of a set of fields.
    pub fn of<'a>(fields: impl IntoIterator<Item = (&'a str, &'a str)>) -> Bloom {
        let mut b = Bloom::EMPTY;
        for (k, v) in fields {
            b.insert(k, v);
        }
        b
    }

    /// Adds one field.
    pub fn insert(&mut self, key: &str, value: &str) {
        let parts: [&[u8]; 3] = [key.as_bytes(), &[0], value.as_bytes()];
        let h1 = fnv1a(FNV_BASIS_1, &parts);
        let h2 = fnv1a(FNV_BASIS_2, &parts) | 1;
        for i in 0..u64::from(BLOOM_HASHES) {
            let bit = (h1.wrapping_add(i.wrapping_mul(h2)) % BLOOM_BITS as u64) as usize;
            self.0[bit / 64] |= 1 << (bit % 64);
        }
    }

    /// True when every bit of `rule` is set here (`self & rule == rule`).
    pub fn contains(&self, rule: &Bloom) -> bool {
        self.0.iter().zip(&rule.0).all(|(m, r)| m & r == *r)
    }

    /// Bitwise union.
    pub fn union(&self, other: &Bloom) -> Bloom {
        let mut out = *self;
        for (o, b) in out.0.iter_mut().zip(&other.0) {
            *o |= b;
        }
        out
    }
}

impl fmt::Debug for Bloom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Bloom({self})")
    }
}

/// 128 lowercase hex digits, component 0 first.
impl fmt::Display for Bloom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|c| write!(f, "{c:016x}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn containment() {
        let rule = Bloom::of([("member", "Changed")]);
        let msg = Bloom::of([("member", "Changed"), ("path", "/a")]);
        assert!(msg.contains(&rule));
        assert!(!rule.contains(&msg));
        assert!(msg.contains(&Bloom::EMPTY));
        assert!(rule.0.iter().map(|c| c.count_ones()).sum::<u32>() <= BLOOM_HASHES);
    }
}
