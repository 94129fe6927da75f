// Package memory is the in-process hub.Broker of the embedded mode: updates
// published in this process are handed to every subscription of the same
// Broker value. It carries nothing across processes and stores nothing.
package memory
