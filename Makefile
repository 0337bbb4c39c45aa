# Chorus: `make run` and `make test` are the two commands. See README.md.
#   make            build build/chorus
#   make run        install what is missing, build, serve on http://127.0.0.1:8080
#   make test       install what is missing, build, run every test suite
#   make SANITIZE=1 test   the same with ASan+UBSan (build-asan/)
#   make cluster    three nodes behind HAProxy with Redis and PostgreSQL (scripts/cluster.sh)
#   make bench      Chorus against the ws and Socket.IO peers (docs/benchmarks.md)
#   make bench-sfu  SFU_N Chromium participants in one call through Janus (docs/benchmarks.md)
#   make bench-assets  one tus upload and download of an ASSETS_SIZE file (docs/benchmarks.md)
#   make bench-large   one room filled to LARGE_SIZES on one node and LARGE_CLUSTER_SIZE over
#                      LARGE_NODES cluster nodes (issue 26; docs/benchmarks.md "Large rooms")
#   make fuzz       build the libFuzzer targets with clang and run each FUZZ_SECONDS, JOBS at a time
#   make format     clang-format the C sources
#   make sdk-types  regenerate the JS SDK's .d.ts files from its JSDoc (clients/js)

SANITIZE ?= 0
WERROR ?= 0
FUZZ_SECONDS ?= 30
JOBS ?= $(shell nproc)

ifeq ($(SANITIZE),1)
BUILD := build-asan
CMAKE_FLAGS := -DCHORUS_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
else
BUILD := build
CMAKE_FLAGS := -DCMAKE_BUILD_TYPE=RelWithDebInfo
endif
CMAKE_FLAGS += -DCHORUS_WERROR=$(if $(filter 1,$(WERROR)),ON,OFF)

# LeakSanitizer is on: a leak fails the run. abort_on_error gives a core-style exit.
export ASAN_OPTIONS ?= detect_leaks=1:abort_on_error=1:strict_string_checks=1
export UBSAN_OPTIONS ?= print_stacktrace=1:halt_on_error=1

, := ,
.PHONY: all build web deps run test unit e2e e2e-pg e2e-cluster sdk sdk-types browser bench bench-sfu fuzz format clean bench-assets bench-large

all: build

build: web
	@cmake -S . -B $(BUILD) $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

# The web app loads the SDK from its own directory (the static server never follows a
# link out of the web root) as one file: the build bundles the SDK's modules into it.
SDK_SRC := clients/js/chorus.js $(wildcard clients/js/src/*.js)

# Whether esbuild is there is asked when the recipe runs, not when make reads this file:
# `make run` and `make test` install node_modules (deps) in the same invocation.
web:
	@if [ ! -x node_modules/.bin/esbuild ]; then \
		echo "web: node_modules is missing (make deps); the web app will not load"; \
	else \
		$(MAKE) -s --no-print-directory web/lib/chorus.js && \
		if [ -d node_modules/@codemirror ]; then scripts/web-vendor.sh; \
		else echo "web: node_modules is missing (make deps); the editor tab will not load"; fi; \
	fi

web/lib/chorus.js: $(SDK_SRC) scripts/sdk-bundle.sh
	@mkdir -p web/lib
	@scripts/sdk-bundle.sh $@

deps:
	@scripts/deps.sh

run: deps build
	@mkdir -p var
	exec ./$(BUILD)/chorus serve --listen 127.0.0.1:8080 --data ./var --web ./web

# A cluster on 127.0.0.1 (scripts/cluster.sh): redis-server, PostgreSQL, three nodes and
# HAProxy on http://127.0.0.1:8080; Ctrl-C stops everything.
.PHONY: cluster
cluster: deps build
	exec scripts/cluster.sh start

test: deps build unit e2e e2e-cluster sdk browser

unit:
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)

# The suites of rooms, documents and entities (their kill -9 durability tests too) run a
# second time on PostgreSQL: each test file starts a throwaway cluster (tests/e2e/lib/pg.mjs,
# scripts/pg-test.sh) and every server gets a database of its own.
E2E_PG := rooms rooms_ws docs entities regress server_api webhooks

e2e:
	CHORUS_BIN=$(CURDIR)/$(BUILD)/chorus node --test --test-concurrency=2 tests/e2e/
	$(MAKE) --no-print-directory e2e-pg

e2e-pg:
	CHORUS_TEST_STORE=postgres CHORUS_BIN=$(CURDIR)/$(BUILD)/chorus \
		node --test --test-concurrency=2 $(E2E_PG:%=tests/e2e/%.test.mjs)

# The same suites once more on a cluster (issue 19): every server a test starts is three
# --cluster nodes on PostgreSQL and a redis-server, behind a front door that spreads the
# test's connections over them (tests/e2e/lib/cluster.mjs, startClusterServer); a test
# that needs one process skips itself (ON_CLUSTER). The SDK's reconnection tests too, with
# a node killed under a client.
E2E_CLUSTER := rooms rooms_ws docs entities presence_sub

e2e-cluster:
	CHORUS_TEST_CLUSTER=1 CHORUS_BIN=$(CURDIR)/$(BUILD)/chorus \
		node --test --test-concurrency=2 $(E2E_CLUSTER:%=tests/e2e/%.test.mjs) clients/js/test/reconnect.test.mjs

# The checked-in .d.ts must be what tsc generates from the SDK's JSDoc now, and a
# TypeScript program using the API must compile against it (scripts/sdk-types.sh).
sdk:
	@scripts/sdk-types.sh --check
	CHORUS_BIN=$(CURDIR)/$(BUILD)/chorus node --test --test-concurrency=2 clients/js/test/

# Regenerates clients/js/chorus.d.ts and src/*.d.ts from the JSDoc (commit them).
sdk-types:
	@scripts/sdk-types.sh

browser:
	CHORUS_BIN=$(CURDIR)/$(BUILD)/chorus CHORUS_ARTIFACTS=$(CURDIR)/$(BUILD)/artifacts \
		node --test --test-concurrency=1 tests/browser/

# Builds without sanitizers whatever SANITIZE says: a benchmark of an ASan build measures ASan.
bench: deps
	@cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build build -j $(JOBS)
	@scripts/bench.sh build

# The SFU load run (docs/benchmarks.md "SFU"): N Chromium participants in one call through
# a throwaway Janus (minutes, so not part of `make bench`). SFU_N=8 by default.
bench-sfu: build
	@CHORUS_BIN=$(CURDIR)/build/chorus node bench/sfu_load.mjs $(or $(SFU_N),8) 10

# The assets run (docs/benchmarks.md "Assets"): a generated ASSETS_SIZE file (10GiB by
# default) up through tus and down again, with dd on the same disk. It needs about three
# times ASSETS_SIZE free in ASSETS_DIR (the system's temporary folder by default) while it
# runs, and removes it all. Not part of `make test` or `make bench`: minutes.
bench-assets: build
	@node bench/assets_bench.mjs --size $(or $(ASSETS_SIZE),10GiB) --bin $(CURDIR)/build/chorus \
		$(if $(ASSETS_DIR),--dir $(ASSETS_DIR))

# The large-room run (docs/benchmarks.md "Large rooms", issue 26): one room filled to each of
# LARGE_SIZES (100,1000,6000,19000) members on one node, a fresh server each, then to
# LARGE_CLUSTER_SIZE (100000; 0: skipped) over LARGE_NODES (6) --cluster nodes (a throwaway
# PostgreSQL and redis-server). Server CPU per join, p99 connect->joined, memory per member.
# Not part of `make test` or `make bench`: 10-20 minutes on a loaded 2-core machine.
bench-large: build
	@ulimit -n $$(ulimit -Hn); CHORUS_BIN=$(CURDIR)/build/chorus node bench/large_room.mjs \
		$(CURDIR)/build/chorus-bench $(or $(LARGE_SIZES),100$(,)1000$(,)6000$(,)19000) 1
	@if [ "$(or $(LARGE_CLUSTER_SIZE),100000)" != 0 ]; then ulimit -n $$(ulimit -Hn); \
		CHORUS_BIN=$(CURDIR)/build/chorus node bench/large_room.mjs $(CURDIR)/build/chorus-bench \
		$(or $(LARGE_CLUSTER_SIZE),100000) $(or $(LARGE_NODES),6); fi

fuzz:
	@scripts/deps.sh --fuzz
	@CC=clang cmake -S . -B build-fuzz -DCHORUS_FUZZ=ON -DCMAKE_BUILD_TYPE=Debug \
		-DCHORUS_WERROR=$(if $(filter 1,$(WERROR)),ON,OFF) >/dev/null
	@cmake --build build-fuzz -j $(JOBS)
	@scripts/fuzz-run.sh $(FUZZ_SECONDS) $(JOBS)

format:
	clang-format -i src/*/*.c src/*/*.h tests/unit/*.h tests/unit/*/*.c tests/unit/*/*.h fuzz/*.c

clean:
	rm -rf build build-asan build-fuzz
