#![no_main]
#[global_allocator] static ALLOC: sealwire_oracles::freed::ScanAlloc = sealwire_oracles::freed::ScanAlloc::new();
libfuzzer_sys::fuzz_target!(|data: &[u8]| sealwire_oracles::fuzz_one(sealwire_oracles::Target::Conversation, data));
