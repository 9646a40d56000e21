# Build, test and demo entry points. `make test` is what CI runs (via .ci/run):
# it starts a real Kafka broker (scripts/kafka.sh) and a schema registry
# (scripts/registry.sh), runs every test against them and always stops both.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := build

GO ?= go
# A VCS stamp is useless here and fails in checkouts git does not trust.
export GOFLAGS ?= -buildvcs=false

KAFKA := scripts/kafka.sh
export EDDY_KAFKA_PORT ?= 19092
KAFKA_BROKERS := 127.0.0.1:$(EDDY_KAFKA_PORT)
REGISTRY := scripts/registry.sh
export EDDY_REGISTRY_PORT ?= 19342
REGISTRY_URL := http://127.0.0.1:$(EDDY_REGISTRY_PORT)/apis/ccompat/v7
# The secured broker of the TLS, SASL and ACL tests (SASL_SSL on the port,
# then its controller, SSL and inter-broker listeners on the next three):
# certificates and passwords made at each start.
SECURE_KAFKA := $(GO) run ./internal/kafkatest/securekafka
SECURE_KAFKA_PORT ?= 19292
SECURE_TEST_ENV := EDDY_KAFKA_SECURE_DIR=$(CURDIR)/.cache/kafka-secure-$(SECURE_KAFKA_PORT) EDDY_REQUIRE_SECURE_KAFKA=1
TEST_TIMEOUT ?= 40m
# Tests write records stamped near 1970 (event-time cases): the default time
# retention would delete them at the broker's next retention check (every
# 5 min), between a test's produce and its read.
TEST_KAFKA_PROPS := log.retention.ms=-1
# make test ends with a short run of every fuzz target (about 3 min here);
# TEST_FUZZTIME=0 leaves it out.
TEST_FUZZTIME ?= 5s

# apt-get needs root; use sudo only when we are not root already.
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)

.PHONY: deps rocksdb chromium kafka-jars registry-dist build demo cluster-demo test test-short fuzz kafka-up kafka-down kafka-status registry-up registry-down bench bench-quick bench-cluster bench-query

## deps: system packages (RocksDB for the state stores, Chromium for the status
## page's browser test), the Kafka broker jars and the schema registry
deps: rocksdb chromium kafka-jars registry-dist

rocksdb:
	@if ! dpkg -s librocksdb-dev >/dev/null 2>&1; then \
	  echo "installing librocksdb-dev"; \
	  $(SUDO) apt-get update; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y librocksdb-dev; \
	fi

chromium:
	@if ! command -v chromium >/dev/null 2>&1; then \
	  echo "installing chromium"; \
	  $(SUDO) apt-get update; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; \
	fi

kafka-jars:
	$(KAFKA) jars

registry-dist:
	$(REGISTRY) fetch

## build: compile every package and the eddy binary into bin/
build: rocksdb
	$(GO) build ./...
	@if [ -n "$(wildcard cmd/eddy/*.go)" ]; then \
	  echo "$(GO) build -o bin/eddy ./cmd/eddy"; $(GO) build -o bin/eddy ./cmd/eddy; \
	else echo "cmd/eddy has no Go files yet; skipping bin/eddy"; fi

## demo: run the demo program
demo: deps
	$(GO) run ./cmd/eddy demo

## cluster-demo: the word count as a cluster of processes on a broker of its own
## (127.0.0.1:19892): a node killed, a node added, exact counts checked
CLUSTER_DEMO_FLAGS ?=

cluster-demo: deps
	$(GO) run ./examples/06-cluster $(CLUSTER_DEMO_FLAGS)

## test: all tests, with the race detector, against a real Kafka broker, a
## secured one (internal/kafkatest/securekafka, for the TLS, SASL and ACL tests)
## and a schema registry (Apicurio, in memory); the status page's browser test
## must run (EDDY_REQUIRE_BROWSER=1) and keeps its screenshots in
## test-artifacts/; then every fuzz target runs for TEST_FUZZTIME (default 5s)
# The registry starts while the brokers do. All are stopped on every way out
# (test failure, Ctrl-C, SIGTERM, a closed terminal or output pipe) and the exit
# code of go test is kept.
test: deps
	@$(REGISTRY) start & rpid=$$!; \
	trap 'wait $$rpid 2>/dev/null; $(SECURE_KAFKA) stop -port $(SECURE_KAFKA_PORT) || true; $(KAFKA) stop || true; $(REGISTRY) stop || true' EXIT; \
	trap 'exit 129' HUP; trap 'exit 130' INT; trap 'exit 141' PIPE; trap 'exit 143' TERM; \
	EDDY_KAFKA_SERVER_PROPS="$(TEST_KAFKA_PROPS)" $(KAFKA) start; \
	$(SECURE_KAFKA) start -port $(SECURE_KAFKA_PORT); \
	wait $$rpid || { echo "the schema registry did not start"; exit 1; }; \
	echo "EDDY_KAFKA_BROKERS=$(KAFKA_BROKERS) $(SECURE_TEST_ENV) EDDY_SCHEMA_REGISTRY_URL=$(REGISTRY_URL) EDDY_REQUIRE_BROWSER=1 EDDY_TEST_ARTIFACTS=$(CURDIR)/test-artifacts $(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) ./..."; \
	EDDY_KAFKA_BROKERS=$(KAFKA_BROKERS) $(SECURE_TEST_ENV) EDDY_SCHEMA_REGISTRY_URL=$(REGISTRY_URL) EDDY_REQUIRE_BROWSER=1 EDDY_TEST_ARTIFACTS=$(CURDIR)/test-artifacts $(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) ./...; \
	if [ "$(TEST_FUZZTIME)" != 0 ]; then \
	  echo "short fuzz run: every fuzz target for $(TEST_FUZZTIME)"; \
	  $(MAKE) --no-print-directory fuzz FUZZTIME=$(TEST_FUZZTIME); \
	fi

## test-short: unit tests only; tests that need a real broker skip themselves
test-short: rocksdb
	env -u EDDY_KAFKA_BROKERS -u EDDY_KAFKA_SECURE_DIR -u EDDY_REQUIRE_SECURE_KAFKA -u EDDY_SCHEMA_REGISTRY_URL $(GO) test -race -short -count=1 ./...

## fuzz: run every fuzz target for FUZZTIME each (docs/fuzzing.md), one at
## a time (go test -fuzz takes one target per run). Their seed corpora
## already run as plain tests in make test.
FUZZTIME ?= 30s
FUZZPARALLEL ?= 2
FUZZ_TARGETS := \
	./topology:FuzzScalarSerdes ./topology:FuzzJSONSerde ./topology:FuzzWindowedSerdes \
	./topology:FuzzChangeSerde ./topology:FuzzStoreKeys ./topology:FuzzForeignKeyWire \
	./topology:FuzzVersionedValue ./serde/registry:FuzzWireFormat ./serde/registry:FuzzDeserialize ./state:FuzzCheckpoint ./partition:FuzzCommitMetadata \
	./cluster:FuzzNodeMessage ./cluster:FuzzNodeMeta ./cluster:FuzzLogRecord \
	.:FuzzServeQuery .:FuzzHTTPGatewayParams
fuzz: rocksdb
	@for t in $(FUZZ_TARGETS); do \
	  pkg=$${t%%:*}; name=$${t##*:}; \
	  echo "$(GO) test -run '^$$' -fuzz '^$$name\$$' -fuzztime $(FUZZTIME) -parallel $(FUZZPARALLEL) $$pkg"; \
	  log=$$(mktemp); \
	  if ! $(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) -parallel $(FUZZPARALLEL) $$pkg 2>&1 | tee $$log; then \
	    if grep -q 'context deadline exceeded' $$log && ! grep -q 'Failing input written' $$log; then \
	      echo "$$name: go's fuzzing engine timed out stopping its workers, with no failing input; once more"; \
	      $(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) -parallel $(FUZZPARALLEL) $$pkg; \
	    else rm -f $$log; exit 1; fi; \
	  fi; \
	  rm -f $$log; \
	done

## kafka-up / kafka-down / kafka-status: a broker for working by hand
kafka-up:
	$(KAFKA) start

kafka-down:
	$(KAFKA) stop

kafka-status:
	$(KAFKA) status

## registry-up / registry-down: the schema registry for working by hand
## (EDDY_SCHEMA_REGISTRY_URL=$(scripts/registry.sh url) for its tests)
registry-up:
	$(REGISTRY) start

registry-down:
	$(REGISTRY) stop

## bench: Eddy side by side with Kafka Streams, goka and a raw franz-go pipe on a
## broker of its own (BENCH_PORT); writes docs/benchmarks/RESULTS.md and ratios.png
## bench-quick: the same with smaller sizes (Eddy measured >= ~1 s a workload) and one
## repetition, printed only (10 min on a 2-core machine at load average ~18)
BENCH_PORT ?= 19392
BENCH_FLAGS ?=

bench: deps
	$(GO) run ./bench/cmd/bench -port $(BENCH_PORT) -results docs/benchmarks/RESULTS.md -chart docs/benchmarks/ratios.png $(BENCH_FLAGS)

bench-quick: deps
	$(GO) run ./bench/cmd/bench -quick -port $(BENCH_PORT) $(BENCH_FLAGS)

## bench-cluster: the cluster's failover and join figures on a broker of its own
## (CLUSTER_BENCH_PORT): 3 word-count nodes, 20 kill -9 per configuration, a
## third node joining; writes docs/benchmarks/cluster-results.md (7-13 min here).
## CLUSTER_BENCH_FLAGS=-quick: 3 kills per configuration, printed only (< 3 min)
CLUSTER_BENCH_PORT ?= 19692
CLUSTER_BENCH_FLAGS ?=

bench-cluster: deps
	$(GO) run ./bench/cmd/clusterbench -port $(CLUSTER_BENCH_PORT) \
	  $(if $(findstring -quick,$(CLUSTER_BENCH_FLAGS)),,-results docs/benchmarks/cluster-results.md) $(CLUSTER_BENCH_FLAGS)

## bench-query: remote and local Gets while 3 nodes count 50,000 records/s, and a
## scan of 1,000,000 keys, on a broker of its own (QUERY_BENCH_PORT); writes
## docs/benchmarks/queries-results.md (about 3 min here).
## QUERY_BENCH_FLAGS=-quick: short runs, 100,000 keys, printed only (about 2 min)
QUERY_BENCH_PORT ?= 19492
QUERY_BENCH_FLAGS ?=

bench-query: deps
	$(GO) run ./bench/cmd/querybench -port $(QUERY_BENCH_PORT) \
	  $(if $(findstring -quick,$(QUERY_BENCH_FLAGS)),,-results docs/benchmarks/queries-results.md) $(QUERY_BENCH_FLAGS)
