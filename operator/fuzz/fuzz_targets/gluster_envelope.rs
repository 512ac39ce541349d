//! Fuzz target `gluster_envelope`: see `gluster_operator::fuzzing::gluster_envelope`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| gluster_operator::fuzzing::gluster_envelope(data));
