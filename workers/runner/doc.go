// Package runner runs listeners as consumer groups of the event stream: one
// group per listener, so each listener sees every event once (at least once
// on redelivery). It applies a timeout to each attempt, retries with
// backoff, takes over entries left by dead consumers, and after the last
// try records a failed job and acknowledges the entry. Effects are made
// exactly-once by the listeners (processed_events in the effect's
// transaction), not here.
package runner
