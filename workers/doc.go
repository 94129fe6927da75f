// Package workers is the asynchronous side of notifyhub. Its sub-packages:
// relay (outbox → event stream), runner (listeners as consumer groups, with
// retries, timeouts and failed jobs), listeners (the reactions to business
// events) and stream (the event stream seam and its backends). This package
// itself holds nothing but this overview.
package workers
