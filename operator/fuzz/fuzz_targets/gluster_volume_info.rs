//! Fuzz target `gluster_volume_info`: see `gluster_operator::fuzzing::gluster_volume_info`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| gluster_operator::fuzzing::gluster_volume_info(data));
