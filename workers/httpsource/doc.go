// Package httpsource fetches the pages of a sync from a tenant's external
// HTTP endpoint (extsync.Fetcher). It is the only code that sends requests
// to addresses a tenant chose, so it carries the guards: every address it
// dials (after DNS resolution, and for every redirect) passes the host
// policy, each request has its own timeout, bodies are read up to a size
// limit, and no proxy from the environment is used. It stores nothing.
package httpsource
