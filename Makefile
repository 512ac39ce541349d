# gluster-operator. `make demo` and `make test` are the two entry points (see README.md).
SHELL := /bin/bash
CARGO_TARGET_DIR ?= $(HOME)/.cache/gluster-operator/target
export CARGO_TARGET_DIR
TOOLS_DIR := $(CURDIR)/.tools
export PATH := $(TOOLS_DIR)/bin:$(PATH)
BIN := $(CARGO_TARGET_DIR)/debug/gluster-operator

.PHONY: all setup build image demo devenv test test-fast conformance e2e-external vm-e2e lint fmt crds chart-crd crds-check bench bench-real-cloud fuzz

all: build

## setup: install the Debian packages and tools the tests and the demo use (idempotent)
setup:
	@hack/setup.sh

build:
	cargo build --workspace --all-targets

## image: the operator's OCI image, $(CARGO_TARGET_DIR)/oci/gluster-operator-<appVersion>.oci.tar
## (tag <appVersion>, the chart's default), built without a registry: a static binary on an empty
## base, non-root, OCI labels, reproducible (SOURCE_DATE_EPOCH, default the HEAD commit's time)
image:
	@hack/image.sh

## demo: the main job: devenv + the operator, the seed's 4-node cluster to Ready, mounted and written
demo: setup
	cargo build -q -p gluster-operator -p e2e --bins
	@hack/demo.sh "$(CARGO_TARGET_DIR)/debug"

## devenv: the local world (OpenStack simulator + a real Kubernetes control plane) in the foreground
DEVENV_DIR ?= /tmp/gluster-devenv
devenv: setup
	cargo build -q -p e2e --bin devenv
	$(CARGO_TARGET_DIR)/debug/devenv up --dir $(DEVENV_DIR)

## test: every test: test-fast, then the conformance suite against a real OpenStack
test: test-fast conformance

## test-fast: every test but the conformance suite (unit, property, CEL, CRD sync, golden
## plans, real tools, the simulator e2e on a real kube-apiserver with real gluster): for quick loops
test-fast: setup lint image
	cargo test --workspace --no-fail-fast

## conformance: a real OpenStack (Keystone, Nova, Neutron, Cinder, Glance, Placement, Heat from
## PyPI) started on 127.0.0.1, the client and the operator run against it, everything stopped
## (E2E_CONFORMANCE_CLOUDS=<clouds.yaml> uses a running one instead)
conformance: setup
	@hack/conformance.sh

## e2e-external: the reconcile e2e tests against the cluster and cloud of KUBECONFIG and
## OS_CLOUD (clouds.yaml from OS_CLIENT_CONFIG_FILE); simulator-only tests say SKIPPED
e2e-external:
	@test -n "$$KUBECONFIG" -a -n "$$OS_CLOUD" || { echo "set KUBECONFIG and OS_CLOUD (and OS_CLIENT_CONFIG_FILE)"; exit 2; }
	E2E_EXTERNAL=1 cargo test -p e2e --test reconcile_cloud --test reconcile_gluster -- --nocapture --test-threads 2

## vm-e2e: the operator's user-data booted by cloud-init in real VMs (qemu; KVM when a guest
## runs under it, else TCG): the Debian 12 base image and the local package mirror are built by
## hack/vm-image/build.sh into $(VM_CACHE), once per recipe (README, "What each node runs")
VM_CACHE ?= /var/cache/gluster-operator/vm
vm-e2e: setup
	VM_CACHE=$(VM_CACHE) cargo test -p e2e --features vm --test vm_boot -- --nocapture

## lint: rustfmt check and clippy with warnings as errors
lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

fmt:
	cargo fmt --all

## crds: regenerate crds/glusterclusters.yaml (and the deletionPolicy admission policy,
## crds/glustercluster-admission.yaml) from the Rust types, and the Helm chart's copy
crds:
	cargo run -q -p gluster-operator -- crd > crds/glusterclusters.yaml
	cargo run -q -p gluster-operator -- admission-policy > crds/glustercluster-admission.yaml
	hack/chart-crd.sh

## fuzz: every cargo-fuzz target (operator/fuzz, libFuzzer, nightly) for FUZZ_SECONDS each (default
## 60), seeded from the committed corpora; new inputs go to $(FUZZ_WORK), crashes to
## operator/fuzz/artifacts/. `make test` replays the committed corpora on stable (fuzz_corpora.rs).
FUZZ_SECONDS ?= 60
FUZZ_WORK ?= $(CARGO_TARGET_DIR)/fuzz-corpus
FUZZ_TARGETS = $(basename $(notdir $(wildcard operator/fuzz/fuzz_targets/*.rs)))
fuzz:
	@command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz
	cd operator && cargo +nightly fuzz build
	@set -e; for t in $(FUZZ_TARGETS); do \
	  mkdir -p "$(FUZZ_WORK)/$$t"; \
	  echo "== fuzz $$t for $(FUZZ_SECONDS) s"; \
	  (cd operator && cargo +nightly fuzz run $$t "$(FUZZ_WORK)/$$t" fuzz/corpus/$$t -- \
	    -max_total_time=$(FUZZ_SECONDS) -max_len=8192 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1); \
	done

## chart-crd: rewrite the chart's CRD (with helm.sh/resource-policy: keep) from crds/glusterclusters.yaml
chart-crd:
	hack/chart-crd.sh

## bench: time to Ready vs critical path (4/16/64 real loopback nodes × 2/10/30 s boot delay),
## OpenStack calls vs the minimum, idle calls, operator RSS/CPU with 1/100/1000 clusters; a table,
## bench-results.json and bench-results.svg (release build: the operator's CPU is measured).
## Needs root; exits 1 when a target is missed. Not part of `make test`.
bench: setup
	cargo build --release -p gluster-operator -p e2e --bin gluster-operator --bin bench
	$(CARGO_TARGET_DIR)/release/bench --operator-bin $(CARGO_TARGET_DIR)/release/gluster-operator

## bench-real-cloud: the operator beside OpenStack Heat and direct calls on the conformance cloud
## (a real Keystone/Nova/Cinder/Neutron/Heat on loopback, started and stopped here): N = 4 and 8,
## create, scale-out by 2, delete; time, time to Ready, calls by service; a table and
## bench-real-cloud.json. Needs root; exits 1 when a goal is missed. Not part of `make test`.
bench-real-cloud: setup
	@hack/bench-real-cloud.sh
