#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| ferry_tests::fuzz::connect_reply(data));
