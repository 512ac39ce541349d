//! Fuzz target `cloud_config`: see `gluster_operator::fuzzing::cloud_config`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| gluster_operator::fuzzing::cloud_config(data));
