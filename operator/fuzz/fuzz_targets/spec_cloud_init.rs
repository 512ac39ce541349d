//! Fuzz target `spec_cloud_init`: see `gluster_operator::fuzzing::spec_cloud_init`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| gluster_operator::fuzzing::spec_cloud_init(data));
