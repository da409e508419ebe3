//! A small deterministic mutator: the same seed gives the same inputs, so a failure reproduces
//! from the driver's seed and input number alone.

/// xorshift64*: fast, and good enough to choose mutations.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed` (zero is replaced, as xorshift would stay at zero).
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next_u64() % n as u64) as usize
        }
    }

    /// True one time in `n`.
    pub fn one_in(&mut self, n: usize) -> bool {
        self.below(n) == 0
    }
}

/// Integers that find off-by-one and overflow bugs, as little-endian bytes of several widths.
const INTERESTING: &[u64] = &[
    0,
    1,
    2,
    3,
    4,
    7,
    8,
    16,
    24,
    0x7f,
    0x80,
    0xff,
    0x100,
    0x7fff,
    0x8000,
    0xffff,
    0x1_0000,
    0x2_0000,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_fffe,
    0xffff_ffff,
    0x7fff_ffff_ffff_ffff,
    u64::MAX,
];

/// Largest input the mutator makes: above the largest frame, so size limits are exercised.
pub const MAX_INPUT: usize = 192 * 1024;

/// Mutates `input` in place with one to eight random edits; `others` supplies splices.
pub fn mutate(rng: &mut Rng, input: &mut Vec<u8>, dictionary: &[&[u8]], others: &[Vec<u8>]) {
    for _ in 0..1 + rng.below(8) {
        let len = input.len();
        match rng.below(11) {
            // Flip a bit.
            0 if len > 0 => {
                let at = rng.below(len);
                input[at] ^= 1 << rng.below(8);
            }
            // A random byte.
            1 if len > 0 => {
                let at = rng.below(len);
                input[at] = rng.next_u64() as u8;
            }
            // An interesting integer, overwriting.
            2 if len > 0 => {
                let v = INTERESTING[rng.below(INTERESTING.len())];
                let width = [1, 2, 4, 8][rng.below(4)];
                let at = rng.below(len);
                let end = (at + width).min(len);
                input[at..end].copy_from_slice(&v.to_le_bytes()[..end - at]);
            }
            // Delete a range.
            3 if len > 0 => {
                let at = rng.below(len);
                let end = (at + 1 + rng.below(16)).min(len);
                input.drain(at..end);
            }
            // Duplicate a range somewhere.
            4 if len > 0 => {
                let at = rng.below(len);
                let end = (at + 1 + rng.below(64)).min(len);
                let piece = input[at..end].to_vec();
                let to = rng.below(len + 1);
                input.splice(to..to, piece);
            }
            // A dictionary token.
            5 | 6 if !dictionary.is_empty() => {
                let token = dictionary[rng.below(dictionary.len())];
                let to = rng.below(len + 1);
                if rng.one_in(2) || to + token.len() > len {
                    input.splice(to..to, token.iter().copied());
                } else {
                    input[to..to + token.len()].copy_from_slice(token);
                }
            }
            // Random bytes inserted.
            7 => {
                let to = rng.below(len + 1);
                let n = 1 + rng.below(8);
                let bytes: Vec<u8> = (0..n).map(|_| rng.next_u64() as u8).collect();
                input.splice(to..to, bytes);
            }
            // Splice with another input.
            8 if !others.is_empty() => {
                let other = &others[rng.below(others.len())];
                let from = rng.below(other.len() + 1);
                let to = rng.below(len + 1);
                input.truncate(to);
                input.extend_from_slice(&other[from..]);
            }
            // Truncate.
            9 if len > 0 => input.truncate(rng.below(len)),
            // Repeat a range many times (long runs, deep nesting).
            10 if len > 0 => {
                let at = rng.below(len);
                let end = (at + 1 + rng.below(8)).min(len);
                let piece = input[at..end].to_vec();
                let times = 1 + rng.below(512);
                let to = rng.below(len + 1);
                let run: Vec<u8> = piece
                    .iter()
                    .copied()
                    .cycle()
                    .take(piece.len() * times)
                    .collect();
                input.splice(to..to, run);
            }
            _ => {}
        }
    }
    input.truncate(MAX_INPUT);
}

/// A random input of up to `max` bytes.
pub fn random(rng: &mut Rng, max: usize) -> Vec<u8> {
    let n = rng.below(max + 1);
    (0..n).map(|_| rng.next_u64() as u8).collect()
}
