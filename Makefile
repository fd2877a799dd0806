# Sigma Live: `make run` and `make test` are the whole set-up (see README.md).
# Both install what is missing on a Debian machine first (scripts/deps.sh).

SHELL := /bin/bash
export CARGO_TARGET_DIR ?= $(HOME)/.cache/sigma/target
export SIGMA_DATA_DIR ?= $(CURDIR)/data

.PHONY: run test test-release build bench openapi fuzz fuzz-replay

# The fuzz targets (fuzz/fuzz_targets/), and how long `make fuzz` runs each.
FUZZ_TARGETS := rtmp_amf0 rtmp_chunks rtmp_session flv_tags codec_configs packager ladder_demux jpeg_splitter log_records log_file http_range playlist_query webhook_target
FUZZ_SECONDS ?= 600

## Build and start one process: API, deciders, projections on the embedded log and SQLite.
run:
	@scripts/deps.sh run
	@scripts/dashboard.sh
	cargo build --release --bin sigma
	$(CARGO_TARGET_DIR)/release/sigma run

## Install the test dependencies (ffmpeg, tansu, PostgreSQL running) and run every test; then
## run the end-to-end suites again on the scaled-out topology (profile `topology`).
test:
	@scripts/deps.sh test
	@scripts/dashboard.sh
	cargo build --workspace --all-targets
	$(MAKE) --no-print-directory fuzz-replay
	cargo nextest run --workspace --no-fail-fast --test-threads 4
	SIGMA_TEST_DEPLOYMENT=topology cargo nextest run --workspace --no-fail-fast --profile topology

## The arithmetic a client or publisher controls, again in a release build (no overflow checks
## there): Range positions, crafted SPS sizes, and the 1 GiB downloads against a release `sigma`.
test-release:
	@scripts/dashboard.sh
	cargo build --release -p sigma --bin sigma
	cargo nextest run --release -p sigma-shared -p sigma-media -p sigma-edge-worker -E 'test(/range|crafted|sps|codec_config|overflow/)'
	SIGMA_BIN=$(CARGO_TARGET_DIR)/release/sigma cargo nextest run -p sigma-tests --test downloads

## Regenerate openapi/openapi.json from the code.
openapi:
	UPDATE_OPENAPI=1 cargo test -p sigma-control-plane --lib openapi

## Whole-system benchmarks; they rewrite their sections of docs/BENCHMARKS.md.
bench:
	@scripts/deps.sh bench
	@scripts/dashboard.sh
	cargo build --release --workspace --bins
	cargo run --release -p sigma-bench --bin roundtrip
	cargo run --release -p sigma-bench --bin replay
	cargo run --release -p sigma-bench --bin latency
	cargo run --release -p sigma-bench --bin ladder
	cargo run --release -p sigma-bench --bin audience
	cargo run --release -p sigma-bench --bin density
	cargo run --release -p sigma-bench --bin failover
	cargo run --release -p sigma-bench --bin history

## Runs each fuzz target for FUZZ_SECONDS with libFuzzer and AddressSanitizer (cargo-fuzz on the
## stable toolchain). New corpus entries land in fuzz/corpus/TARGET; a crash stops the run and
## is left in fuzz/artifacts/TARGET: fix it, then keep it in fuzz/regressions/TARGET.
fuzz:
	@command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
	@scripts/fuzz-seeds.sh
	@for target in $(FUZZ_TARGETS); do \
	  mkdir -p fuzz/corpus/$$target; \
	  echo "fuzz: $$target for $(FUZZ_SECONDS) s"; \
	  RUSTC_BOOTSTRAP=1 cargo fuzz run $$target fuzz/corpus/$$target -- \
	    -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 || exit 1; \
	done

## Runs every kept corpus entry and regression input once through its target, on stable Rust
## without instrumentation (part of `make test`).
fuzz-replay:
	cargo build --manifest-path fuzz/Cargo.toml --bins
	@for target in $(FUZZ_TARGETS); do \
	  inputs=$$(find fuzz/corpus/$$target fuzz/regressions/$$target -type f 2>/dev/null | wc -l); \
	  echo "fuzz-replay: $$target, $$inputs inputs"; \
	  find fuzz/corpus/$$target fuzz/regressions/$$target -type f 2>/dev/null \
	    | xargs -r -n 500 $(CARGO_TARGET_DIR)/debug/$$target >/dev/null 2>$(CARGO_TARGET_DIR)/fuzz-replay.log \
	    || { tail -20 $(CARGO_TARGET_DIR)/fuzz-replay.log; exit 1; }; \
	done
