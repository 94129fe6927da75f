# The README's two commands are `make run` (or `go run ./cmd/notifyhub serve --demo`)
# and `make test` (or `go test ./...`).
GO ?= go
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/test?sslmode=disable
TEST_REDIS_URL ?= redis://127.0.0.1:6379/0

.PHONY: run demo test test-all generate lint bench build

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

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...
