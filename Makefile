# The two commands of the README are `make verify` (the main job) and
# `make test` (what CI runs). Everything else is a convenience.
GO ?= go
export CI

# BUGTAGS compiles impl/core's bug switches in (core.BugsCompiled): every
# test, vet, fuzz and simulator run uses it; `go build` without it is the
# production build, which refuses any bug switch. make test builds with it
# (one build for build, vet and test); the production build is checked by
# an untagged go test of impl/core and by impl/multiproc, whose tests run
# the node binary built without it.
BUGTAGS = -tags megastore_bugs

.PHONY: verify test spec tlc bench

## verify: the verification suite on the embedded default cluster: every spec
## config through the Go mirror, then the deterministic simulator of the real
## core (SEEDS seeds, trace-validated against the mirror, histories checked),
## then a Jepsen-style run on five Docker nodes under every fault kind, every
## node's steps validated through the mirror (skipped, with a line saying
## so, where no Docker engine answers).
VERIFY_TIME ?= 60s
verify: build-verify spec sim verify-nodes

.PHONY: verify-nodes
verify-nodes:
	@if [ -S /var/run/docker.sock ] || [ -n "$$DOCKER_HOST" ]; then \
		echo "==> a Jepsen-style run on five Docker nodes: every fault kind for $(VERIFY_TIME), then every check (report in store/latest)"; \
		$(GO) run ./tests/cmd/jepsen --workload txn --nemesis all --time-limit $(VERIFY_TIME) --seed $(SEED); \
	else \
		echo "==> skipping the run on real nodes: no Docker engine here (no /var/run/docker.sock, DOCKER_HOST unset)"; \
	fi

# build-verify: compile the two tools first, naming each package as it
# compiles, so a fresh machine's minutes of compiling are not silent.
.PHONY: build-verify
build-verify:
	@echo "==> building the spec explorer and the simulator (a fresh machine takes a few minutes; go build -v lists packages as they compile)"
	$(GO) build -v -o /dev/null ./spec/cmd/explore
	$(GO) build -v $(BUGTAGS) -o /dev/null ./tests/cmd/sim
	@echo "==> build done"

## test: every test, as CI runs it, a short -race run of the driver and of
## the simulator on it (RACE_DRIVER_SEEDS seeds a profile), then a short run
## of every fuzz target (FUZZTIME_CI each; `make fuzz` runs them longer).
FUZZTIME_CI ?= 3s
RACE_DRIVER_SEEDS ?= 10
test:
	@echo "==> building every package with the bug switches, as every test below (a fresh machine takes a few minutes; go build -v lists packages as they compile)"
	$(GO) build -v $(BUGTAGS) ./...
	@echo "==> go vet (compiles the tests too)"
	$(GO) vet $(BUGTAGS) ./...
	@echo "==> go test, with the bug switches: each package prints a line when it is done; long ones print progress with -v"
	$(GO) test $(BUGTAGS) -count=1 -timeout 25m ./...
	@echo "==> go test -race: impl/node and impl/cluster, then $(RACE_DRIVER_SEEDS) seeds of each simulator profile on the driver loop (TestDriverLoop); a data race between a driver and what feeds it fails here (under a minute once built)"
	$(GO) test $(BUGTAGS) -race -count=1 -timeout 10m ./impl/node/ ./impl/cluster/
	$(GO) test $(BUGTAGS) -race -count=1 -timeout 10m -run '^TestDriverLoop$$' ./tests/sim/ -driver-seeds=$(RACE_DRIVER_SEEDS)
	@echo "==> go test of impl/core as a production build: a bug switch is refused (impl/multiproc's tests build the production binary and check it too)"
	$(GO) test -count=1 -run '^TestBugsCompiledOut$$' ./impl/core/
	$(GO) test -count=1 -run '^TestBugSwitchesRefusedWithoutTheTag$$' ./impl/db/
	@echo "==> tests/bench (its own module): vet, and a smoke run of the etcd comparison at tiny counts (about 10 s)"
	cd tests/bench && $(GO) vet ./... && $(GO) test -count=1 -timeout 5m ./...
	@echo "==> fuzz: every target for $(FUZZTIME_CI)"
	$(MAKE) --no-print-directory fuzz FUZZTIME=$(FUZZTIME_CI)

## spec: model-check every shipped config through the Go mirror and print TLC-style
## reports, then the temporal properties of the configs that list some
## (under LiveSpec's fairness, by strongly connected components).
spec:
	$(GO) run ./spec/cmd/explore -traces traces
	$(GO) run ./spec/cmd/explore -liveness

## spec-deep: the mirror-only configs (tla/MCDeep*), far past TLC's budget, with
## 64-bit fingerprints on every core; prints states/s and memory as it goes.
.PHONY: spec-deep
spec-deep:
	$(GO) run ./spec/cmd/explore -deep

## tlc: run TLC itself on every shipped config, when TLA2TOOLS names a tla2tools.jar.
tlc:
	@if [ -z "$(TLA2TOOLS)" ] || [ ! -f "$(TLA2TOOLS)" ]; then \
		echo "TLC is not installed: set TLA2TOOLS=/path/to/tla2tools.jar to run it (CI checks the spec through spec/ instead)."; \
	else \
		dir=$$(mktemp -d) && cp tla/*.tla tla/*.cfg $$dir/ && cd $$dir && \
		for cfg in MC*.cfg; do m=$${cfg%.cfg}; case $$m in MCDeep*) echo "=== $$m: mirror-only (make spec-deep), skipped"; continue;; esac; echo "=== $$m"; \
			java -XX:+UseParallelGC -cp "$(TLA2TOOLS)" tlc2.TLC -workers auto -cleanup $$m || exit 1; \
		done; \
	fi

## bench: the benchmarks whose figures the README quotes.
bench:
	$(GO) test -run '^$$' -bench . -benchtime 3x ./spec/

## bench-etcd: this store and etcd side by side, three processes each on
## loopback, then over link proxies (WAN); prints progress, then tables of
## ratios and the load. BENCH_ETCD_FLAGS makes it longer, e.g.
## BENCH_ETCD_FLAGS="-duration 10s -rounds 3" (see `go run . -h` in tests/bench).
BENCH_ETCD_FLAGS ?=
.PHONY: bench-etcd
bench-etcd:
	@echo "==> building tests/bench (its own module; the first build compiles etcd and takes minutes)"
	cd tests/bench && $(GO) run . $(BENCH_ETCD_FLAGS)

## proto: regenerate impl/wire/wirepb from megastore.proto (protoc from apt
## protobuf-compiler; plugins: go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
## google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.1).
.PHONY: proto
proto:
	PATH="$$PATH:$$($(GO) env GOPATH)/bin" protoc -I impl/wire/wirepb \
		--go_out=impl/wire/wirepb --go_opt=paths=source_relative \
		--go-grpc_out=impl/wire/wirepb --go-grpc_opt=paths=source_relative \
		impl/wire/wirepb/megastore.proto

## cluster: build the binary and start a loopback cluster (full sites a, b, c;
## WITNESS=1 adds witness w, READONLY=1 adds read-only r) under ./run;
## Ctrl-C stops it.
.PHONY: cluster
cluster:
	@echo "==> building run/megastore, then starting the cluster in the foreground (Ctrl-C stops it)"
	$(GO) build -o run/megastore ./impl/cmd/megastore
	./run/megastore cluster --dir run $(if $(filter 1,$(WITNESS)),--witness) $(if $(filter 1,$(READONLY)),--readonly)

## cluster-docker: build the binary and a FROM scratch image and start the suite's
## 5-site cluster (full a, b, c; witness w; read-only r) in Docker; prints
## addresses and commands to try; Ctrl-C removes exactly its containers,
## network and image. TEST_ADMIN=1 starts the nodes with --test-admin.
.PHONY: cluster-docker
cluster-docker:
	$(GO) run ./tests/cmd/dockercluster $(if $(filter 1,$(TEST_ADMIN)),-test-admin)

## sim: the deterministic simulator over SEEDS seeds (from SEED); prints seeds per
## second, and for a failing seed a one-line repro, the shrunk trace and a
## porcupine visualization. BUG=<core.Bugs field> turns one bug switch on;
## WORKLOAD=bank|queue|listappend runs that workload over impl/db instead.
SEEDS ?= 1000
SEED ?= 0
.PHONY: sim fuzz
sim:
	$(GO) run $(BUGTAGS) ./tests/cmd/sim -seeds $(SEEDS) -seed $(SEED) $(if $(BUG),-bug $(BUG)) $(if $(filter bank queue listappend,$(WORKLOAD)),-workload $(WORKLOAD))

## fuzz: every fuzz target of the repository for FUZZTIME each.
FUZZTIME ?= 30s
fuzz:
	@sum=$$(mktemp); for pkg in $$(grep -l '^func Fuzz' $$(find . -name '*_test.go' -not -path './.git/*') | xargs -n1 dirname | sort -u); do \
		echo "=== $$pkg: building its fuzz-instrumented test binary (slow the first time)"; \
		for t in $$(grep -h '^func Fuzz' $$pkg/*_test.go | sed 's/^func \(Fuzz[A-Za-z0-9_]*\).*/\1/'); do \
			echo "=== $$pkg $$t"; \
			out=$$(mktemp); \
			for try in 1 2; do \
				$(GO) test $(BUGTAGS) -run '^$$' -fuzz "^$$t\$$" -fuzztime $(FUZZTIME) $$pkg 2>&1 | tee $$out; \
				if grep -q '^ok' $$out; then break; fi; \
				if [ $$try = 1 ] && grep -q 'context deadline exceeded' $$out && ! grep -q 'Failing input written' $$out; then \
					echo "=== $$t: the fuzzing engine timed out with no failing input (a known flake of short -fuzztime runs); once more"; \
					continue; \
				fi; \
				rm -f $$out $$sum; exit 1; \
			done; \
			grep 'execs:' $$out | tail -1 | sed 's/.*elapsed: \([0-9]*\)s, execs: \([0-9]*\).*/\1 \2/' | \
				awk -v n="$$pkg $$t" '{ r = ($$1 > 0) ? int($$2 / $$1) : $$2; printf "  %-44s %10d execs %8d/s\n", n, $$2, r }' >> $$sum; \
			rm -f $$out; \
		done; \
	done; echo "=== fuzz rates:"; cat $$sum; rm -f $$sum

## jepsen: a short Jepsen-style run on the Docker cluster (WORKLOAD register|txn|scan,
## NEMESIS a comma list, all, or none (default kill,pause), TIME, SEED, BUG a core.Bugs switch); the report is
## in store/latest; exits 0 valid, 1 invalid, 2 unknown.
WORKLOAD ?= register
NEMESIS ?= kill,pause
TIME ?= 30s
.PHONY: jepsen chaos
jepsen:
	$(GO) run ./tests/cmd/jepsen --workload $(WORKLOAD) --nemesis "$(filter-out none,$(NEMESIS))" --time-limit $(TIME) --seed $(SEED) $(if $(BUG),--bug $(BUG))

## chaos: the nightly: every nemesis for DURATION on the txn workload.
DURATION ?= 1h
chaos:
	$(GO) run ./tests/cmd/jepsen --workload $(if $(filter register,$(WORKLOAD)),txn,$(WORKLOAD)) --nemesis all --time-limit $(DURATION) --seed $(SEED) --lin-timeout 10m
