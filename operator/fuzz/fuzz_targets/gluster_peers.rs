//! Fuzz target `gluster_peers`: see `gluster_operator::fuzzing::gluster_peers`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| gluster_operator::fuzzing::gluster_peers(data));
