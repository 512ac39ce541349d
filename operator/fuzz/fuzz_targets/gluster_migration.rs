//! Fuzz target `gluster_migration`: see `gluster_operator::fuzzing::gluster_migration`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| gluster_operator::fuzzing::gluster_migration(data));
