// Package extsync pulls a tenant's products, customers, stock levels and
// orders from the tenant's own HTTP endpoint (the SyncExternalData job) and
// upserts them through the domain services, by natural key.
//
// It owns the endpoint configuration (sync_configs), the log of each run
// (sync_logs: status, pages, counts, row errors), the run's paging and
// resumption (progress committed per page), the host policy that keeps
// syncs away from internal addresses (SSRF), and a circuit breaker per
// endpoint whose state lives in the database, so that every worker process
// shares it. It does not speak HTTP itself: a Fetcher (workers/httpsource)
// does, under the policy given here.
package extsync
