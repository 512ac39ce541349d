//! Fuzz target `gluster_volume_status`: see `gluster_operator::fuzzing::gluster_volume_status`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| gluster_operator::fuzzing::gluster_volume_status(data));
