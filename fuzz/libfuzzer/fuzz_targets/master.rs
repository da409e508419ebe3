#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| afbus_fuzz::targets::master::target(data));
