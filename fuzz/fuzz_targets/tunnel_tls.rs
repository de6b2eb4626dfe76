#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| ferry_tests::fuzz::tunnel_tls(data));
