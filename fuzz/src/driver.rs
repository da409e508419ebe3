//! Runs a target over its seeds, mutations of them and random inputs, on the stable toolchain.
//!
//! Every input runs under `catch_unwind`; a watchdog thread aborts the process if one input runs
//! past the time bound (a hang), after saving it. A failing input is saved under
//! `fuzz/artifacts/TARGET/` and can be replayed with `afbus-fuzz repro TARGET FILE`.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::mutate::{self, Rng};
use crate::Target;

/// Time one input may take before it counts as a hang. Generous: debug builds on a loaded
/// 2-core machine run the slowest target (the IDL compiler) in milliseconds.
pub const DEFAULT_TIME_BOUND: Duration = Duration::from_secs(10);

/// Largest purely random input, in bytes.
const MAX_RANDOM_INPUT: usize = 4096;

/// How long to run and how.
#[derive(Clone, Debug)]
pub struct Config {
    /// Inputs to run, seeds included.
    pub inputs: u64,
    /// Stop earlier once this much time has passed.
    pub duration: Option<Duration>,
    /// Seed of the mutator.
    pub seed: u64,
    /// Time one input may take.
    pub time_bound: Duration,
}

impl Config {
    /// `inputs` inputs from mutator seed `seed`, with the default time bound.
    pub fn new(inputs: u64, seed: u64) -> Config {
        Config {
            inputs,
            duration: None,
            seed,
            time_bound: DEFAULT_TIME_BOUND,
        }
    }
}

/// What a run did.
#[derive(Clone, Debug)]
pub struct Report {
    /// Inputs run.
    pub inputs: u64,
    /// The slowest input's time.
    pub slowest: Duration,
    /// The whole run's time.
    pub elapsed: Duration,
}

/// An input that made the target panic.
#[derive(Debug)]
pub struct Failure {
    /// Which input (0-based) of the run.
    pub index: u64,
    /// Where it was saved, if it could be.
    pub saved: Option<PathBuf>,
    /// The panic's message.
    pub message: String,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "input {} panicked: {}", self.index, self.message)?;
        match &self.saved {
            Some(p) => write!(f, " (saved as {})", p.display()),
            None => write!(f, " (could not be saved)"),
        }
    }
}

/// Stack of the thread the inputs run on: a spawned thread's default, as the runtime's loopers
/// have, so that unbounded recursion on hostile input shows here as it would there.
pub const STACK_BYTES: usize = 2 * 1024 * 1024;

/// Runs `target` as `config` says, on a thread with [`STACK_BYTES`] of stack; the first panic
/// ends the run.
pub fn run(target: &'static Target, config: &Config) -> Result<Report, Failure> {
    let config = config.clone();
    std::thread::Builder::new()
        .name(format!("fuzz-{}", target.name))
        .stack_size(STACK_BYTES)
        .spawn(move || run_here(target, &config))
        .expect("spawn the fuzzing thread")
        .join()
        .expect("panics are caught per input")
}

fn run_here(target: &Target, config: &Config) -> Result<Report, Failure> {
    let seeds = (target.seeds)();
    let watchdog = Watchdog::start(target.name, config.time_bound);
    let mut rng = Rng::new(config.seed);
    let started = Instant::now();
    let mut slowest = Duration::ZERO;
    let mut index = 0;
    while index < config.inputs {
        if config.duration.is_some_and(|d| started.elapsed() >= d) {
            break;
        }
        let input = next_input(&mut rng, index, &seeds, target.dictionary);
        watchdog.arm(&input);
        let t0 = Instant::now();
        let outcome = catch_unwind(AssertUnwindSafe(|| (target.run)(&input)));
        slowest = slowest.max(t0.elapsed());
        watchdog.disarm();
        if let Err(panic) = outcome {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "(not a string)".into());
            return Err(Failure {
                index,
                saved: save(target.name, "crash", &input),
                message,
            });
        }
        index += 1;
    }
    Ok(Report {
        inputs: index,
        slowest,
        elapsed: started.elapsed(),
    })
}

/// Runs one saved input (a reproducer).
pub fn replay(target: &Target, input: &[u8]) {
    (target.run)(input);
}

/// The `index`th input: each seed once, then mostly mutations of seeds, some random bytes.
fn next_input(rng: &mut Rng, index: u64, seeds: &[Vec<u8>], dictionary: &[&[u8]]) -> Vec<u8> {
    if let Some(seed) = usize::try_from(index).ok().and_then(|i| seeds.get(i)) {
        return seed.clone();
    }
    if seeds.is_empty() || rng.one_in(16) {
        return mutate::random(rng, MAX_RANDOM_INPUT);
    }
    let mut input = seeds[rng.below(seeds.len())].clone();
    // Several rounds now and then, to wander further from the seed.
    for _ in 0..1 + rng.below(3) {
        mutate::mutate(rng, &mut input, dictionary, seeds);
    }
    input
}

/// Saves a failing input; returns where.
fn save(target: &str, kind: &str, input: &[u8]) -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("artifacts")
        .join(target);
    std::fs::create_dir_all(&dir).ok()?;
    // FNV-1a: a stable name, so the same input is saved once.
    let hash = input.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    let path = dir.join(format!("{kind}-{hash:016x}"));
    std::fs::write(&path, input).ok()?;
    Some(path)
}

/// Aborts the process when one input runs past the time bound.
struct Watchdog {
    shared: Arc<Shared>,
}

struct Shared {
    /// When the current input started, in ms since `epoch`, plus one; 0 when none runs.
    started_ms: AtomicU64,
    epoch: Instant,
    input: Mutex<Vec<u8>>,
    done: AtomicBool,
}

impl Watchdog {
    fn start(target: &'static str, bound: Duration) -> Watchdog {
        let shared = Arc::new(Shared {
            started_ms: AtomicU64::new(0),
            epoch: Instant::now(),
            input: Mutex::new(Vec::new()),
            done: AtomicBool::new(false),
        });
        let s = shared.clone();
        let tick = (bound / 10).max(Duration::from_millis(10));
        std::thread::spawn(move || {
            while !s.done.load(Ordering::SeqCst) {
                std::thread::sleep(tick);
                let started = s.started_ms.load(Ordering::SeqCst);
                if started == 0 {
                    continue;
                }
                let now = s.epoch.elapsed().as_millis() as u64 + 1;
                if now.saturating_sub(started) > bound.as_millis() as u64 {
                    let input = s.input.lock().map(|i| i.clone()).unwrap_or_default();
                    let saved = save(target, "hang", &input);
                    eprintln!(
                        "afbus-fuzz: {target}: an input ran for over {bound:?} (a hang); saved as {saved:?}"
                    );
                    std::process::abort();
                }
            }
        });
        Watchdog { shared }
    }

    fn arm(&self, input: &[u8]) {
        if let Ok(mut current) = self.shared.input.lock() {
            current.clear();
            current.extend_from_slice(input);
        }
        let now = self.shared.epoch.elapsed().as_millis() as u64 + 1;
        self.shared.started_ms.store(now, Ordering::SeqCst);
    }

    fn disarm(&self) {
        self.shared.started_ms.store(0, Ordering::SeqCst);
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.shared.done.store(true, Ordering::SeqCst);
    }
}
