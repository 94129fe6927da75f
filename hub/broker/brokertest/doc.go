// Package brokertest is the conformance suite every hub.Broker backend runs
// (memory always, redis when a server is configured). It checks the
// contract documented on hub.Broker; it owns no production code.
package brokertest
