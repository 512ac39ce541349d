"""Helpers of the gluster-operator conformance cloud (see e2e/conformance/README.md)."""
