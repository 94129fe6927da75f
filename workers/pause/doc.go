// Package pause waits for a while unless a context ends first: the wait
// between retries and polls of the relay, the worker loops and the stream
// watch.
package pause
