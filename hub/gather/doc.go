// Package gather runs work that arrives concurrently in batches: while one
// batch runs, the items that arrive meanwhile gather into the next. Under
// load a batch grows to what arrived during one run, so a storm of small
// database round trips (a reconnect storm's user rows and catch-up reads)
// becomes a few large ones, and alone an item runs at once, unbatched.
package gather
