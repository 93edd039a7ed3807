# encoderlab: make conformance (the main job) and make test (every test).
# Needs only Go; Go tools come through the Go module proxy, and make test
# installs what its checks need (npm packages, Debian packages), failing
# with what to install by hand where the machine cannot.

SHELL := /bin/bash

GO       ?= go
REPORTS  ?= $(CURDIR)/reports
# RACE=1 runs the tests under the race detector (CI does).
RACE     ?=
RACEFLAG := $(if $(filter 1 true yes,$(RACE)),-race,)

.PHONY: all conformance certify test build vet fmt check clean help

all: build test

help:
	@echo "make conformance     every bundled scenario against the bundled pipeline: summary, JUnit/JSON/certification reports in reports/conformance"
	@echo "make test            every test (RACE=1 for the race detector), then each fuzz target for 5,000 inputs, then the skipped tests and why; installs the Seam SDK, libnfc's tools, pcscd and its tools, PostgreSQL and Chromium (fails where it cannot)"
	@echo "make certify         certified runs of every profile (current, older, latest): JUnit, JSON, certification YAML and HTML in reports/"
	@echo "make mutants         the suite against every broken pipeline of conformance/mutant; the kill table in reports/kill-table.md"
	@echo "make conformance-under-load  make conformance 20 times with 2 CPU burners beside it; stops at the first failure"
	@echo "make realtime        the timeout scenarios at real time (time scale 1)"
	@echo "make timeline-check  render a sample timeline and screenshot it with headless Chromium"
	@echo "make explore         random desks through the bundled pipeline for EXPLORE_DURATION (10m); a desk that breaks a requirement shrunk into reports/explore"
	@echo "make explore-old     the explorer against encoderd built from afbb00f: it must find a bug and shrink it to at most 10 steps"
	@echo "make kill-test       encoderd SIGKILLed at 100 random moments mid-encode, restarted, checked"
	@echo "make build           encoderd, encodersim, encoderlab, encoder-conformance into bin/"
	@echo "make lab             encoderlab up: the server, a virtual encoder per lab encoder and the /lab page (LAB_FLAGS for more)"
	@echo "make check           gofmt, go vet, staticcheck and deadcode (unreachable functions)"
	@echo "make fuzz            every native fuzz target briefly (FUZZTIME=10s each)"
	@echo "make fuzz-soak       every native fuzz target for FUZZTIME=5m each"
	@echo "make bench           performance table vs limits measured in the same run, CPU profiles; reports/bench.md (BENCH_FULL=1: long curves)"
	@echo "make sdk-deps        Seam's JavaScript SDK for TestSeamSDK (needs npm)"
	@echo "make libnfc          libnfc's nfc-list and nfc-mfclassic for the PN532 compatibility tests (needs apt-get)"
	@echo "make pcsc            pcscd, vsmartcard-vpcd, opensc-tool and pcsc_scan for the PC/SC reader tests (needs apt-get)"
	@echo "make postgres        PostgreSQL's server programs for the Postgres store's tests (needs apt-get)"
	@echo "make chromium        Debian's chromium for the /lab page's browser test (needs apt-get)"

## conformance: the bundled pipeline against every bundled scenario, in
## CONFORMANCE_PROCS processes (each its own pipeline and encoders); the
## summary, JUnit, Ginkgo JSON and the certification report (YAML, HTML,
## with the trace and timeline of any failed scenario) in reports/conformance.
CONFORMANCE_PROCS ?= 3
conformance: pcsc
	$(GO) run ./cmd/encoder-conformance run --procs $(CONFORMANCE_PROCS) --report-dir $(REPORTS)/conformance

## conformance-under-load: make conformance FLAKE_RUNS times in a row (20)
## with FLAKE_BURNERS processes (2) burning CPU beside it, as on a busy CI
## machine; fails at the first failed run and says which.
FLAKE_RUNS ?= 20
FLAKE_BURNERS ?= 2
.PHONY: conformance-under-load
conformance-under-load:
	@mkdir -p $(REPORTS) && $(GO) build -o $(REPORTS)/encoder-conformance ./cmd/encoder-conformance
	@pids=""; for i in $$(seq $(FLAKE_BURNERS)); do (while :; do :; done) & pids="$$pids $$!"; done; \
	trap 'kill $$pids 2>/dev/null' EXIT; \
	for i in $$(seq $(FLAKE_RUNS)); do \
		if ! $(REPORTS)/encoder-conformance run --procs $(CONFORMANCE_PROCS) --report-dir $(REPORTS)/under-load >$(REPORTS)/under-load.log 2>&1; then \
			echo "run $$i of $(FLAKE_RUNS) failed under load; its output is in $(REPORTS)/under-load.log"; tail -40 $(REPORTS)/under-load.log; exit 1; \
		fi; \
		echo "run $$i of $(FLAKE_RUNS): $$(grep '^requirements:' $(REPORTS)/under-load.log); $$(grep -c '^re-run' $(REPORTS)/under-load.log) scenario(s) re-run after a machine stall"; \
		grep '^re-run' $(REPORTS)/under-load.log | sed 's/^/    /'; \
	done; echo "$(FLAKE_RUNS) runs under load with $(FLAKE_BURNERS) CPU burners: 0 failures"

## certify: certified runs of every profile (the two seed revisions and
## latest, Seam's published types); JUnit, Ginkgo JSON and the
## certification report (YAML, HTML) in reports/current, reports/older and
## reports/latest.
certify:
	$(GO) run ./cmd/encoder-conformance run --certified --procs 2 --profile current --report-dir $(REPORTS)/current
	$(GO) run ./cmd/encoder-conformance run --certified --procs 2 --profile older --report-dir $(REPORTS)/older
	$(GO) run ./cmd/encoder-conformance run --certified --procs 2 --profile latest --report-dir $(REPORTS)/latest

## realtime: the scenarios whose outcome is a timeout, at real time (time
## scale 1) instead of the suite's compressed scale: the same outcomes, in
## about a minute instead of a few seconds (the same command with --scale 0.05).
TIMEOUT_SCENARIOS := scenario:empty-reader || scenario:card-never-placed || scenario:prox-card-invisible || scenario:encoder-silent || scenario:pn532-empty-reader || scenario:pn532-prox-card-invisible
.PHONY: realtime
realtime:
	$(GO) run ./cmd/encoder-conformance run --scale 1 --procs 6 \
		--label-filter '$(TIMEOUT_SCENARIOS)' --report-dir $(REPORTS)/realtime

## test: every test in the module, then each fuzz target briefly
## (FUZZ_BRIEF each; FUZZ_BRIEF=0 skips them). The brief run is counted in
## executions, not seconds: Go 1.26's fuzzing coordinator can fail a
## duration-bounded run at its deadline with "context deadline exceeded"
## and no crasher (go.dev/issue/75804), which CI must not mistake for a bug.
FUZZ_BRIEF ?= 5000x
test: sdk-deps libnfc pcsc postgres chromium
	set -o pipefail; $(GO) test $(RACEFLAG) -count=1 -timeout 15m -json ./... | $(GO) run ./internal/tools/testsummary
	@if [ "$(FUZZ_BRIEF)" != "0" ]; then $(MAKE) --no-print-directory fuzz FUZZTIME=$(FUZZ_BRIEF); fi

## mutants: the suite measured against broken pipelines: first each named
## mutant (conformance/mutant), every one of which must be caught, its kill
## table (mutant → requirements that caught it) in reports/kill-table.md;
## then the systematic score (mutants-systematic), printed per field and
## overall.
.PHONY: mutants mutants-named
mutants: mutants-named mutants-systematic

mutants-named:
	@mkdir -p $(REPORTS)
	ENCODERLAB_KILL_TABLE=$(REPORTS)/kill-table.md \
		$(GO) test -count=1 -timeout 20m -run TestEveryMutantIsKilled -v ./conformance/mutant

## mutants-systematic: the suite against one mutant per field of the
## registry, status code and header (each value replaced by another valid
## one of its type); fails on a score under 95% of the changes the seeds
## constrain or on a survivor the registry does not justify. The table
## goes to reports/mutation-score.md and is printed.
.PHONY: mutants-systematic
mutants-systematic:
	@mkdir -p $(REPORTS)
	ENCODERLAB_SYSTEMATIC=1 ENCODERLAB_SCORE_TABLE=$(REPORTS)/mutation-score.md \
		$(GO) test -count=1 -timeout 60m -run TestSystematicMutationScore ./conformance/mutant; \
		rc=$$?; cat $(REPORTS)/mutation-score.md 2>/dev/null; exit $$rc

## explore: generated desks through the bundled pipeline for
## EXPLORE_DURATION (EXPLORE_SEED: the seed, else one from the clock,
## printed); a desk that breaks a requirement is shrunk and written to
## reports/explore (docs/explore.md). make test runs 300 desks of one seed.
EXPLORE_DURATION ?= 10m
.PHONY: explore
explore:
	@mkdir -p $(REPORTS)/explore
	$(GO) run ./cmd/encoder-conformance explore --duration $(EXPLORE_DURATION) --out $(REPORTS)/explore $(if $(EXPLORE_SEED),--seed $(EXPLORE_SEED))

## explore-old: the explorer's proof on real bugs: encoderd built from
## commit afbb00f (git history needed), explored for up to 10 minutes; the
## find must shrink to at most 10 steps.
.PHONY: explore-old
explore-old:
	ENCODERLAB_EXPLORE_OLD=1 $(GO) test -count=1 -timeout 20m -run TestExploreFindsAfbb00fBugs -v ./cmd/encoder-conformance

## kill-test: encoderd SIGKILLed at 100 random moments mid-encode and
## restarted on the same store (make test runs 5 rounds).
.PHONY: kill-test
kill-test:
	ENCODERLAB_KILL_ROUNDS=100 $(GO) test -count=1 -timeout 30m -run TestSurvivesSIGKILL -v ./cmd/encoderd

build:
	@mkdir -p bin
	$(GO) build -o bin/ ./cmd/...

vet:
	$(GO) vet ./...

fmt:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

## staticcheck: honnef.co's linter, with staticcheck.conf (its default
## checks, unused code among them; Ginkgo's and Gomega's dot imports
## allowed). deadcode: functions no command and no test reaches.
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2
DEADCODE ?= golang.org/x/tools/cmd/deadcode@v0.52.0
.PHONY: staticcheck deadcode
staticcheck:
	$(GO) run $(STATICCHECK) ./...
deadcode:
	@out=$$($(GO) run $(DEADCODE) -test ./...) || exit 1; if [ -n "$$out" ]; then echo "unreachable code (deadcode -test):"; echo "$$out"; exit 1; fi

check: fmt vet staticcheck deadcode

clean:
	rm -rf bin $(REPORTS)

## sdk-deps: Seam's JavaScript SDK, as pinned in .ci/sdk/package-lock.json,
## for the SDK check (TestSeamSDK in cmd/encoderd). Installed again only
## when the lock file changes; without npm it fails, saying what to install.
SDK_DIR := .ci/sdk
.PHONY: sdk-deps
sdk-deps:
	@if ! command -v npm >/dev/null 2>&1; then \
		echo "error: npm not found; the Seam SDK check (TestSeamSDK) needs it: install Node.js and npm (Debian: apt-get install nodejs npm)"; exit 1; \
	elif [ -f $(SDK_DIR)/node_modules/.package-lock.json ] && \
	     [ ! $(SDK_DIR)/package-lock.json -nt $(SDK_DIR)/node_modules/.package-lock.json ]; then \
		: up to date; \
	else \
		echo "cd $(SDK_DIR) && npm ci"; \
		cd $(SDK_DIR) && npm ci --ignore-scripts --no-audit --no-fund; \
	fi

## libnfc: Debian's libnfc-bin and libnfc-examples, for the tests that run
## nfc-list and nfc-mfclassic against the virtual PN532 (sim/device/pn532).
## Without apt-get (or root) it fails, saying what to install by hand.
.PHONY: libnfc
libnfc:
	@if command -v nfc-list >/dev/null 2>&1 && command -v nfc-mfclassic >/dev/null 2>&1; then \
		: already installed; \
	elif ! command -v apt-get >/dev/null 2>&1; then \
		echo "error: apt-get not found; install libnfc's tools (nfc-list, nfc-poll, nfc-mfclassic) by hand: the PN532 compatibility tests need them"; exit 1; \
	else \
		SUDO=$$( [ "$$(id -u)" -eq 0 ] || echo sudo ); \
		$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libnfc-bin libnfc-examples \
		|| { $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update && \
		     $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libnfc-bin libnfc-examples; }; \
	fi

## pcsc: Debian's pcscd and vsmartcard-vpcd (a private pcscd with a
## virtual reader, internal/pcscd), OpenSC's opensc-tool and pcsc-tools'
## pcsc_scan (the independent hosts of the virtual ACR122U's tests).
## Without apt-get (or root) it fails, saying what to install by hand.
.PHONY: pcsc
pcsc:
	@if command -v pcscd >/dev/null 2>&1 || [ -x /usr/sbin/pcscd ]; then have_pcscd=1; fi; \
	if [ -n "$$have_pcscd" ] && command -v opensc-tool >/dev/null 2>&1 && command -v pcsc_scan >/dev/null 2>&1 && ls /usr/lib/pcsc/drivers/serial/libifdvpcd.so >/dev/null 2>&1; then \
		: already installed; \
	elif ! command -v apt-get >/dev/null 2>&1; then \
		echo "error: apt-get not found; install pcscd, vsmartcard-vpcd, opensc and pcsc-tools by hand: the PC/SC reader tests need them"; exit 1; \
	else \
		SUDO=$$( [ "$$(id -u)" -eq 0 ] || echo sudo ); \
		$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends pcscd vsmartcard-vpcd opensc pcsc-tools \
		|| { $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update && \
		     $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends pcscd vsmartcard-vpcd opensc pcsc-tools; }; \
	fi

## chromium: Debian's chromium, which the /lab page's browser test
## (TestLabPageInABrowser in cmd/encoderlab) drives through chromedp.
## Without apt-get (or root) it fails, saying what to install by hand.
.PHONY: chromium
chromium:
	@if command -v chromium >/dev/null 2>&1; then \
		: already installed; \
	elif ! command -v apt-get >/dev/null 2>&1; then \
		echo "error: apt-get not found; install Chromium by hand (or set ENCODERLAB_CHROMIUM to a Chrome binary): the /lab page's browser test needs it"; exit 1; \
	else \
		SUDO=$$( [ "$$(id -u)" -eq 0 ] || echo sudo ); \
		$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium \
		|| { $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update && \
		     $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium; }; \
	fi

## lab: encoderlab up on the default ports (API 8450, page 8451/lab).
LAB_FLAGS ?=
.PHONY: lab
lab:
	$(GO) run ./cmd/encoderlab up $(LAB_FLAGS)

## postgres: Debian's postgresql, whose initdb and postgres the Postgres
## store's tests (pipeline/store/postgres/pgtest) run a throwaway server
## with. Without apt-get (or root) it fails, saying what to install by hand.
.PHONY: postgres
postgres:
	@if command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
		: already installed; \
	elif ! command -v apt-get >/dev/null 2>&1; then \
		echo "error: apt-get not found; install PostgreSQL's server (initdb, postgres) by hand, or set ENCODERLAB_POSTGRES_URL: the Postgres store's tests need one"; exit 1; \
	else \
		SUDO=$$( [ "$$(id -u)" -eq 0 ] || echo sudo ); \
		$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql \
		|| { $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update && \
		     $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql; }; \
	fi

## timeline-check: draw a trace recorded from a real encode (first-issue,
## the pipeline's PMS driver against the virtual encoder) and screenshot
## the page with headless Chromium into reports/timeline.png, to look at.
## Installs Debian's chromium when missing.
.PHONY: timeline-check
timeline-check: chromium
	@mkdir -p $(REPORTS)
	ENCODERLAB_TIMELINE_SAMPLE=$(REPORTS)/timeline.html \
		$(GO) test -count=1 -run TestShowDrawsARecordedEncode ./cmd/encodersim
	chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
		--disable-background-networking --disable-component-update --disable-sync \
		--user-data-dir=$$(mktemp -d) --screenshot=$(REPORTS)/timeline.png --window-size=1400,900 \
		file://$(REPORTS)/timeline.html
	@echo "look at $(REPORTS)/timeline.png"

## bench: encoderd, a fleet of virtual encoders and a load generator as
## separate processes, next to the raw limits measured in the same run (pty
## echo, bare HTTP handler, bare SQLite); prints the table, writes it with
## the growth curves and the CPU profiles' tops to reports/bench.md, the
## profiles to reports/bench-profiles/. BENCH_FULL=1 runs the long curves;
## BENCH_FLAGS passes more flags (bin/encoder-bench run --help).
BENCH_FLAGS ?=
.PHONY: bench
bench:
	@mkdir -p bin $(REPORTS)
	$(GO) build -o bin/ ./cmd/encoderd ./cmd/encoder-bench
	bin/encoder-bench run --out $(REPORTS)/bench.md --profile $(REPORTS)/bench-profiles $(BENCH_FLAGS)

## fuzz: every native Go fuzz target in turn, FUZZTIME each (make test
## runs it briefly, by count); fuzz-soak is the same for longer. A run that
## ends "context deadline exceeded" without writing a crasher hit the Go
## fuzzing coordinator's deadline race (go.dev/issue/75804), not a bug. New crashers land in the
## package's testdata/fuzz/<FuzzName>/, where they stay as seeds. Each
## new input a run finds is minimised for FUZZMINIMIZE (Go's default, 60 s
## per input, is what fuzz-soak uses: in a 10 s run a target with long
## inputs, pcsc's FuzzReplies, would spend it all minimising).
FUZZTIME ?= 10s
FUZZMINIMIZE ?= 1000x
FUZZ_TARGETS := \
	./pipeline/api:FuzzRequest \
	./pipeline/driver/pms:FuzzDecoder \
	./pipeline/driver/pn532:FuzzDecoder \
	./pipeline/pcsc:FuzzReplies \
	./sim/device/pms:FuzzParser \
	./sim/device/pn532:FuzzParser \
	./sim/device/pn532:FuzzCommands \
	./sim/device/acr122:FuzzCommands \
	./sim/device/acr122:FuzzDecoder \
	./sim/scenario:FuzzLoad \
	./sim/trace:FuzzRead \
	./sim/trace:FuzzDecoder \
	./cmd/encodersim:FuzzConvert
.PHONY: fuzz fuzz-soak
fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		echo "fuzz $$pkg $$name for $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZE) $$pkg; \
	done

fuzz-soak:
	$(MAKE) fuzz FUZZTIME=5m FUZZMINIMIZE=60s
