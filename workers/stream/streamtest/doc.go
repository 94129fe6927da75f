// Package streamtest is the conformance suite every stream.Stream backend
// runs (Run), plus the Redis test helper other packages' tests share
// (OpenRedis). It is imported only by tests. It owns no production code and
// no backend: each backend's own test wires it to a real server or file.
package streamtest
