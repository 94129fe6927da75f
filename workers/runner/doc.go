// Package runner runs work from the stream: listeners as consumer groups of
// the event stream (one group per listener, so each listener sees every
// event it handles once, at least once on redelivery; Routes lets the relay
// put each event only on the topics of the listeners that handle it, so a
// group never reads what it would ignore), and background jobs from
// queues in strict priority order (QueueWorker, one group shared by every
// worker, so each job runs once). Both share one machinery: a timeout on
// each attempt (cancelled through its ctx), retries with backoff, holding
// entries while working through them (extend) and handing back what was
// not started on shutdown (release), taking over entries of dead
// consumers after reclaim-after, and, after the last try, a failed job
// recorded before the entry is acknowledged. Effects are made exactly-once
// by listeners and jobs themselves (processed_events in the effect's
// transaction, or their own progress records), not here. A listener that
// is also a BatchListener gets the entries of one read in one attempt (a
// group commit: one transaction, one commit wait); its consumers in one
// process take turns, each attempt taking what all of them read while the
// previous one ran, so they never wait on each other's row locks. If that
// attempt fails, each entry runs alone with its own tries and failed job.
package runner
