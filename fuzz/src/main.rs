//! `afbus-fuzz`: runs the fuzz targets on the stable toolchain.
//!
//! ```text
//! afbus-fuzz list
//! afbus-fuzz run [TARGET...] [--inputs N] [--seconds S] [--seed X]   (default: every target)
//! afbus-fuzz repro TARGET FILE...
//! afbus-fuzz seeds TARGET DIR        (writes the seeds, as a libFuzzer corpus)
//! ```
//! Exit status: 0 no failure, 1 a target panicked, 2 bad usage.

use std::process::ExitCode;
use std::time::Duration;

use afbus_fuzz::driver::{self, Config};
use afbus_fuzz::TARGETS;

const USAGE: &str = "usage: afbus-fuzz list | run [TARGET...] [--inputs N] [--seconds S] [--seed X] | repro TARGET FILE... | seeds TARGET DIR";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("list") => {
            for t in TARGETS {
                println!("{}", t.name);
            }
            ExitCode::SUCCESS
        }
        Some("run") => run(&args[1..]),
        Some("repro") if args.len() >= 3 => repro(&args[1], &args[2..]),
        Some("seeds") if args.len() == 3 => seeds(&args[1], &args[2]),
        _ => usage(),
    }
}

fn usage() -> ExitCode {
    eprintln!("{USAGE}");
    ExitCode::from(2)
}

fn run(args: &[String]) -> ExitCode {
    let mut config = Config::new(u64::MAX, 1);
    let mut names = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || it.next().and_then(|v| v.parse::<u64>().ok());
        match a.as_str() {
            "--inputs" => match value() {
                Some(n) => config.inputs = n,
                None => return usage(),
            },
            "--seconds" => match value() {
                Some(s) => config.duration = Some(Duration::from_secs(s)),
                None => return usage(),
            },
            "--seed" => match value() {
                Some(s) => config.seed = s,
                None => return usage(),
            },
            name => names.push(name.to_string()),
        }
    }
    if config.inputs == u64::MAX && config.duration.is_none() {
        config.inputs = 100_000;
    }
    let targets: Vec<_> = if names.is_empty() {
        TARGETS.iter().collect()
    } else {
        let mut found = Vec::new();
        for n in &names {
            match afbus_fuzz::target(n) {
                Some(t) => found.push(t),
                None => {
                    eprintln!("no target {n:?}; `afbus-fuzz list` names them");
                    return ExitCode::from(2);
                }
            }
        }
        found
    };
    let mut failed = false;
    for t in targets {
        match driver::run(t, &config) {
            Ok(r) => println!(
                "{:<12} {:>10} inputs in {:>8.1?}, slowest {:.1?}: no panic, no hang",
                t.name, r.inputs, r.elapsed, r.slowest
            ),
            Err(f) => {
                println!("{:<12} FAILED: {f}", t.name);
                failed = true;
            }
        }
    }
    if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn repro(name: &str, files: &[String]) -> ExitCode {
    let Some(t) = afbus_fuzz::target(name) else {
        eprintln!("no target {name:?}");
        return ExitCode::from(2);
    };
    for f in files {
        match std::fs::read(f) {
            Ok(input) => {
                driver::replay(t, &input);
                println!("{f}: no panic");
            }
            Err(e) => {
                eprintln!("{f}: {e}");
                return ExitCode::from(2);
            }
        }
    }
    ExitCode::SUCCESS
}

fn seeds(name: &str, dir: &str) -> ExitCode {
    let Some(t) = afbus_fuzz::target(name) else {
        eprintln!("no target {name:?}");
        return ExitCode::from(2);
    };
    for (i, seed) in (t.seeds)().iter().enumerate() {
        let path = std::path::Path::new(dir).join(format!("seed-{i}"));
        if let Err(e) = std::fs::write(&path, seed) {
            eprintln!("{}: {e}", path.display());
            return ExitCode::from(2);
        }
    }
    ExitCode::SUCCESS
}
