// Package jobs is the background-job side of notifyhub: job types and their
// registry, the dispatcher that queues a job, the relay's routing of queued
// jobs to their queue, failed-job management (list, retry, forget, flush,
// prune) and the restart marker workers watch. Jobs run in
// runner.QueueWorker, which serves queues in strict priority order.
//
// # Dispatching never loses a committed job
//
// Dispatch writes the job envelope to the outbox (the events table) as an
// event of the reserved type notifyhub.job, in the transaction carried by
// ctx when there is one. The relay publishes it like any event, but on the
// topic of the job's queue (Route). So a job asked for by a domain change
// exists exactly when that change commits, in both modes (Redis Streams or
// the database queue), and if Redis loses its data the relay republishes
// it from the outbox. Delivery is at least once: a job must be idempotent.
//
// # Retrying
//
// A failed job keeps its original payload. Retry writes it back to the
// outbox and deletes the failed row in one transaction: a job envelope
// goes to the queue it failed on; a listener's failed event goes to the
// event topic addressed to that one listener (runner.ListenerRetryBody),
// so no other listener sees it again. Retrying twice at once retries once.
//
// # Listeners and queues
//
// Listeners are not queued jobs: each is a consumer group of the event
// stream and must see every event, so they run in every worker process
// whatever its --queue. Work that should wait behind more urgent work
// belongs in a job (a listener may dispatch one).
package jobs
