# The two commands of the README are `make run` and `make test`; the rest are parts of them
# or long jobs kept out of CI (bench, fuzz). docs/testing.md says what runs where and why.
BUILD_DIR ?= build
SANITIZE_DIR ?= build-asan
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=
# make fuzz: seconds per target; make test runs each for FUZZ_SMOKE_SECONDS.
FUZZ_SECONDS ?= 60
FUZZ_SMOKE_SECONDS ?= 15
FUZZ_TARGETS := fuzz_csv fuzz_url_list fuzz_multipart

# The sanitizer tree: clang, ASan + UBSan stopping at the first finding, plus the fuzz
# targets. -O0 because compiling dominates its cost (docs/testing.md, "Timings").
SANITIZE_OPT ?= -O0
SANITIZE_CMAKE_FLAGS := -DCMAKE_BUILD_TYPE=Debug "-DCMAKE_CXX_FLAGS_DEBUG=$(SANITIZE_OPT) -gline-tables-only" \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DIMGBATCH_SANITIZE=address,undefined -DIMGBATCH_FUZZ=ON -DIMGBATCH_WERROR=ON
SANITIZE_ENV := ASAN_OPTIONS=detect_leaks=1:check_initialization_order=1:strict_init_order=1 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp:print_suppressions=0

.PHONY: all deps build run test test-release build-sanitize test-sanitize fuzz clean \
  format format-check lint

all: build

deps:
	@bash scripts/install-deps.sh

$(BUILD_DIR)/CMakeCache.txt: | deps
	@cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=Release -DIMGBATCH_WERROR=ON $(CMAKE_FLAGS) >/dev/null

build: deps $(BUILD_DIR)/CMakeCache.txt
	@cmake --build $(BUILD_DIR) -j $(JOBS)

run: build
	@mkdir -p data/images
	./$(BUILD_DIR)/imgbatch serve --listen 127.0.0.1:8080 --db sqlite:data/imgbatch.db --storage file:data/images

# Everything CI checks: the formatting (seconds, so first), the Release suite, then the same
# suite under the sanitizers with a short run of each fuzz target. Any failure stops make
# with a non-zero status.
test: format-check test-release test-sanitize

# The C++ files against .clang-format, with Debian 12's clang-format 14 (scripts/format.sh
# says which files). format-check changes nothing and fails on any drift; format fixes it.
CLANG_FORMAT ?= clang-format-14
format: deps
	@CLANG_FORMAT=$(CLANG_FORMAT) bash scripts/format.sh

format-check: deps
	@CLANG_FORMAT=$(CLANG_FORMAT) bash scripts/format.sh --check

# clang-tidy 14 with .clang-tidy over src/ (the product; tests/ are left out, see
# docs/testing.md "Static analysis"). Every finding is an error, so any finding fails.
# It needs a configured clang tree for compile_commands.json, not a build: LINT_DIR is
# configured (again each time, a few seconds, so new files are seen), never compiled.
# It takes minutes on 2 cores, so it is not part of `make test`.
LINT_DIR ?= build-lint
RUN_CLANG_TIDY ?= run-clang-tidy-14
CLANG_TIDY ?= clang-tidy-14
# A regular expression on the source paths: `make lint LINT_FILES=src/csv/` checks one module.
LINT_FILES ?= $(CURDIR)/src/
lint: deps
	@cmake -S . -B $(LINT_DIR) -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=clang \
	  -DCMAKE_CXX_COMPILER=clang++ $(CMAKE_FLAGS) >/dev/null
	@if $(RUN_CLANG_TIDY) -clang-tidy-binary $(CLANG_TIDY) -p $(LINT_DIR) -j $(JOBS) -quiet \
	    '$(LINT_FILES)' >$(LINT_DIR)/clang-tidy.log 2>&1; then \
	  echo "lint: no findings"; \
	else \
	  sed 's/\x1b\[[0-9;]*m//g' $(LINT_DIR)/clang-tidy.log | grep -E ': (error|warning):' | sort -u; \
	  echo "lint: findings above; the whole log is $(LINT_DIR)/clang-tidy.log"; exit 1; \
	fi

test-release: build
	@cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS)

$(SANITIZE_DIR)/CMakeCache.txt: | deps
	@cmake -S . -B $(SANITIZE_DIR) $(SANITIZE_CMAKE_FLAGS) >/dev/null

build-sanitize: deps $(SANITIZE_DIR)/CMakeCache.txt
	@cmake --build $(SANITIZE_DIR) -j $(JOBS)

test-sanitize: build-sanitize
	@cd $(SANITIZE_DIR) && $(SANITIZE_ENV) FUZZ_SECONDS=$(FUZZ_SMOKE_SECONDS) \
	  ctest --output-on-failure -j $(JOBS)

# Each fuzz target for FUZZ_SECONDS on a scratch copy of fuzz/corpus/TARGET; findings are
# kept in $(SANITIZE_DIR)/fuzz-artifacts/TARGET/.
fuzz: build-sanitize
	@failed=0; for target in $(FUZZ_TARGETS); do \
	  seeds=; [ $$target = fuzz_csv ] && seeds=../shared/testdata/csv/sample.csv; \
	  $(SANITIZE_ENV) bash fuzz/run_fuzzer.sh $(SANITIZE_DIR)/fuzz/$$target fuzz/corpus/$$target \
	    $(FUZZ_SECONDS) $(SANITIZE_DIR)/fuzz-artifacts $$seeds || failed=1; \
	done; exit $$failed

# The figures of BENCHMARKS.md in one invocation (bench/run.sh says what and how; it installs
# nginx, wrk and the node packages it needs). A Release tree of its own, with bench/ in it.
BENCH_DIR ?= build-bench
.PHONY: bench
bench: deps
	@cmake -S . -B $(BENCH_DIR) -DCMAKE_BUILD_TYPE=Release -DIMGBATCH_BUILD_TESTS=ON -DIMGBATCH_BUILD_BENCH=ON >/dev/null
	@cmake --build $(BENCH_DIR) --target imgbatch codec_rate status_load store_throughput quality_auto \
	  blob_put_latency ceph_cluster_main e2e_test postgres_e2e_test -j $(JOBS)
	@BENCH_BUILD_DIR=$(CURDIR)/$(BENCH_DIR) bash bench/run.sh

# A Debian package of the Release binary with its systemd unit (packaging/), written to
# $(BUILD_DIR)/imgbatch_VERSION_ARCH.deb. docs/operations.md says how to run it.
.PHONY: package
package: build
	@cd $(BUILD_DIR) && cpack -G DEB >/dev/null && ls $(CURDIR)/$(BUILD_DIR)/imgbatch_*.deb

clean:
	rm -rf $(BUILD_DIR) $(SANITIZE_DIR) $(LINT_DIR)
