#![no_main]
#[global_allocator] static ALLOC: sealwire_freed_scan::ScanAlloc = sealwire_freed_scan::ScanAlloc::new();
libfuzzer_sys::fuzz_target!(|data: &[u8]| sealwire_conformance::oracle::fuzz_one(sealwire_conformance::oracle::Target::Bundle, data));
