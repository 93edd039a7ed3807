# encoderlab: make conformance (the main job) and make test (every test).
# Needs only Go; every other tool is fetched through the Go module proxy.

GO       ?= go
REPORTS  ?= $(CURDIR)/reports
# RACE=1 runs the tests under the race detector (CI does).
RACE     ?=
RACEFLAG := $(if $(filter 1 true yes,$(RACE)),-race,)

.PHONY: all conformance test build vet fmt check clean help

all: build test

help:
	@echo "make conformance  run every bundled scenario against the bundled pipeline, with a summary and JUnit/JSON reports in reports/"
	@echo "make test         run every test (RACE=1 for the race detector)"
	@echo "make build        build encoderd, encodersim into bin/"
	@echo "make check        gofmt and go vet"

## conformance: the bundled pipeline against every bundled scenario.
conformance:
	@mkdir -p $(REPORTS)
	$(GO) test $(RACEFLAG) -count=1 -timeout 10m ./conformance -run TestConformance -v \
		-args -ginkgo.junit-report=$(REPORTS)/conformance-junit.xml \
		      -ginkgo.json-report=$(REPORTS)/conformance.json

## test: every test in the module.
test: sdk-deps
	$(GO) test $(RACEFLAG) -count=1 -timeout 15m ./...

build:
	@mkdir -p bin
	$(GO) build -o bin/ ./cmd/...

vet:
	$(GO) vet ./...

fmt:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

check: fmt vet

clean:
	rm -rf bin $(REPORTS)

## sdk-deps: Seam's JavaScript SDK, as pinned in .ci/sdk/package-lock.json,
## for the SDK check (TestSeamSDK in cmd/encoderd). Installed again only
## when the lock file changes; without npm the check is skipped, with a note.
SDK_DIR := .ci/sdk
.PHONY: sdk-deps
sdk-deps:
	@if ! command -v npm >/dev/null 2>&1; then \
		echo "note: npm not found; the Seam SDK check (TestSeamSDK) will be skipped. Install Node.js and npm to run it."; \
	elif [ -f $(SDK_DIR)/node_modules/.package-lock.json ] && \
	     [ ! $(SDK_DIR)/package-lock.json -nt $(SDK_DIR)/node_modules/.package-lock.json ]; then \
		: up to date; \
	else \
		echo "cd $(SDK_DIR) && npm ci"; \
		cd $(SDK_DIR) && npm ci --ignore-scripts --no-audit --no-fund; \
	fi
