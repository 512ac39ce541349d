//! Fuzz target `spec_plan`: see `gluster_operator::fuzzing::spec_plan`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| gluster_operator::fuzzing::spec_plan(data));
