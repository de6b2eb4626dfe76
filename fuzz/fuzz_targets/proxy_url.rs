#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| ferry_tests::fuzz::proxy_url(data));
