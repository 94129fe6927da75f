# The README's two commands are `make run` (or `go run ./cmd/notifyhub serve --demo`)
# and `make test` (or `go test ./...`).
GO ?= go
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/test?sslmode=disable
TEST_REDIS_URL ?= redis://127.0.0.1:6379/0

.PHONY: run demo test test-all generate lint bench bench-ci build load load-build load-embedded load-distributed

run demo:
	$(GO) run ./cmd/notifyhub serve --demo

build:
	$(GO) build -o notifyhub ./cmd/notifyhub

test:
	$(GO) test ./...

# Everything, as CI runs it: race detector, PostgreSQL, Redis and the browser.
test-all:
	NOTIFYHUB_TEST_DATABASE_URL='$(TEST_DATABASE_URL)' NOTIFYHUB_TEST_REDIS_URL='$(TEST_REDIS_URL)' \
	$(GO) test -race -count=1 ./...

generate:
	$(GO) tool templ generate -path web/view

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); exit 1)
	$(GO) vet ./...
	GOOS=darwin $(GO) build ./... && GOOS=windows $(GO) build ./...

# Go benchmarks of the hot paths (hub fan-out over the seam and over
# sockets, frame encoding, notification insert batch, catch-up page, relay
# batch publish, stream publish/read), benchstat-friendly: BENCH_COUNT=10
# and `benchstat old.txt new.txt` to compare. PostgreSQL and Redis
# benchmarks run when their URLs are reachable.
BENCH_COUNT ?= 1
bench:
	NOTIFYHUB_TEST_DATABASE_URL='$(TEST_DATABASE_URL)' NOTIFYHUB_TEST_REDIS_URL='$(TEST_REDIS_URL)' \
	$(GO) test -run '^$$' -bench . -benchmem -count=$(BENCH_COUNT) ./...

# Every benchmark once, as CI runs them: they must compile and work.
bench-ci:
	$(GO) test -run '^$$' -bench . -benchtime=1x ./...

# The load generator against a freshly started server in each mode (see
# BENCHMARKS.md): embedded (SQLite file in a temporary directory) and
# distributed (a fresh schema in TEST_DATABASE_URL and a fresh key prefix in
# TEST_REDIS_URL, both removed afterwards). LOAD_FLAGS sets the run.
LOAD_DIR ?= $(or $(TMPDIR),/tmp)/notifyhub-load
LOAD_FLAGS ?= --clients 10000 --tenants 10
load: load-embedded load-distributed

load-build:
	mkdir -p '$(LOAD_DIR)'
	$(GO) build -o '$(LOAD_DIR)/notifyhub' ./cmd/notifyhub
	$(GO) build -o '$(LOAD_DIR)/loadgen' ./cmd/loadgen

load-embedded: load-build
	'$(LOAD_DIR)/loadgen' --spawn '$(LOAD_DIR)/notifyhub' $(LOAD_FLAGS)

load-distributed: load-build
	'$(LOAD_DIR)/loadgen' --spawn '$(LOAD_DIR)/notifyhub' \
		--spawn-database-url '$(TEST_DATABASE_URL)' --spawn-redis-url '$(TEST_REDIS_URL)' $(LOAD_FLAGS)
