// Package storetest is the conformance suite every store backend runs
// (Run), and the openers other packages' tests use to get a fresh, migrated,
// isolated store: OpenSQLite (a file in the test's temp dir), OpenPostgres
// (a new schema in NOTIFYHUB_TEST_DATABASE_URL, dropped afterwards; the test
// is skipped, with the reason, when the variable is unset) and Backends
// (both, by name, to run a test against each).
//
// It only tests and opens; it holds no production code.
package storetest
