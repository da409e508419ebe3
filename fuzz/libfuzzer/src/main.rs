//! libFuzzer's entry point for every afbus-fuzz target: `AFBUS_FUZZ_TARGET` names the one to run
//! (`./run TARGET` sets it), so a new target needs nothing here.
#![no_main]

use std::sync::OnceLock;

static TARGET: OnceLock<&'static afbus_fuzz::Target> = OnceLock::new();

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let target = TARGET.get_or_init(|| {
        let name = std::env::var("AFBUS_FUZZ_TARGET").unwrap_or_default();
        afbus_fuzz::target(&name).unwrap_or_else(|| {
            let names: Vec<&str> = afbus_fuzz::TARGETS.iter().map(|t| t.name).collect();
            eprintln!("set AFBUS_FUZZ_TARGET to one of {}", names.join(", "));
            std::process::exit(2)
        })
    });
    (target.run)(data)
});
