//! The fuzz smoke run: every target over its seeds and deterministic mutations, no panic and no
//! hang (the driver aborts on an input over its time bound). Seconds, in CI.

use afbus_fuzz::driver::{self, Config};

/// Inputs per target, seeds included: fewer where one input costs more (the IDL compiler; the
/// targets that make a round trip through a runtime or the bus master).
fn inputs_for(name: &str) -> u64 {
    match name {
        "idl" => 4_000,
        "call" | "master" => 10_000,
        _ => 20_000,
    }
}

#[test]
fn every_target_survives_the_smoke_run() {
    let mut total = 0;
    for t in afbus_fuzz::TARGETS {
        let config = Config::new(inputs_for(t.name), 0x5eed);
        match driver::run(t, &config) {
            Ok(r) => {
                eprintln!(
                    "fuzz smoke: {:<11} {:>6} inputs in {:.1?} (slowest {:.1?})",
                    t.name, r.inputs, r.elapsed, r.slowest
                );
                total += r.inputs;
            }
            Err(f) => panic!("{}: {f}", t.name),
        }
    }
    eprintln!("fuzz smoke: {total} inputs, no panic, no hang");
}
