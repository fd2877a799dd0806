# Sigma Live: `make run` and `make test` are the whole set-up (see README.md).
# Both install what is missing on a Debian machine first (scripts/deps.sh).

SHELL := /bin/bash
export CARGO_TARGET_DIR ?= $(HOME)/.cache/sigma/target
export SIGMA_DATA_DIR ?= $(CURDIR)/data

.PHONY: run test build bench openapi

## Build and start one process: API, deciders, projections on the embedded log and SQLite.
run:
	@scripts/deps.sh run
	cargo build --release --bin sigma
	$(CARGO_TARGET_DIR)/release/sigma run

## Install the test dependencies (ffmpeg, tansu, PostgreSQL running) and run every test; then
## run the end-to-end suites again on the scaled-out topology (profile `topology`).
test:
	@scripts/deps.sh test
	cargo build --workspace --all-targets
	cargo nextest run --workspace --no-fail-fast --test-threads 4
	SIGMA_TEST_DEPLOYMENT=topology cargo nextest run --workspace --no-fail-fast --profile topology

## Regenerate openapi/openapi.json from the code.
openapi:
	UPDATE_OPENAPI=1 cargo test -p sigma-control-plane --lib openapi

## Whole-system benchmarks; they rewrite their sections of docs/BENCHMARKS.md.
bench:
	@scripts/deps.sh bench
	cargo build --release --workspace --bins
	cargo run --release -p sigma-bench --bin roundtrip
	cargo run --release -p sigma-bench --bin replay
	cargo run --release -p sigma-bench --bin latency
	cargo run --release -p sigma-bench --bin ladder
	cargo run --release -p sigma-bench --bin audience
	cargo run --release -p sigma-bench --bin density
	cargo run --release -p sigma-bench --bin failover
