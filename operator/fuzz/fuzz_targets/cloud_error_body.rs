//! Fuzz target `cloud_error_body`: see `gluster_operator::fuzzing::cloud_error_body`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| gluster_operator::fuzzing::cloud_error_body(data));
