//! Fuzz target `gluster_heal_info`: see `gluster_operator::fuzzing::gluster_heal_info`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| gluster_operator::fuzzing::gluster_heal_info(data));
