// Command loadgen drives a notifyhub server over its public contract (the
// WebSocket of DESIGN.md §4.5 and the REST API) and reports what the
// performance issue asks for: per phase, messages sent, deliveries
// expected, received, lost and duplicated, deliveries per second, latency
// percentiles, the server's CPU-seconds per 100,000 deliveries, the server's
// memory per connection and the load generator's own CPU.
//
// It is bounded by construction: it talks only to loopback addresses
// (anything else is refused before a packet is sent), every phase stops at
// a duration and a message count, the whole run at --max-duration, and the
// counts themselves have hard ceilings.
//
//	loadgen --url http://127.0.0.1:8080 --secret $NOTIFYHUB_JWT_SECRET --clients 10000 --tenants 10
//	loadgen --spawn ./notifyhub --clients 1000          # starts (and stops) a fresh embedded server
//	loadgen ... --phases connect,business --json
//
// Phases (in this order, those named by --phases):
//
//	connect         N clients as (tenant, user), each ready once its first unread_count frame arrived;
//	                connections per second, connect latency, server RSS and heap growth per connection
//	business        POST /api/v1/stock-movements crossing a product's reorder level at --business-rate;
//	                each must reach every connected holder of inventory.alerts as a LowStockNotification
//	personal        POST /api/v1/notifications to one user at --personal-rate, from up to --personal-senders
//	                concurrent senders
//	personal-max    the same, as fast as --personal-senders concurrent senders go
//	broadcast       POST /api/v1/notifications {"all":true} to a tenant at --broadcast-rate deliveries/s
//	broadcast-max   the same, as fast as possible
//
// Personal and broadcast payloads carry {"lg": run, "p": phase, "n": message,
// "t": send time in Unix nanoseconds} in their data; latency is the time from
// the send to the frame's arrival. A phase whose endpoint the server does not
// have (404 or 405) is reported as skipped, not failed.
//
// Tokens are signed by the load generator with the server's secret
// (--secret or NOTIFYHUB_JWT_SECRET; in embedded mode start the server with
// NOTIFYHUB_JWT_SECRET set, or use --spawn, which does). The server's
// process is found from the listening port (or --pid) and sampled from
// /proc/PID: RSS and CPU time.
package main
