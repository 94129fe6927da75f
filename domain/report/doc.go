// Package report generates a tenant's reports (sales, inventory, financial,
// customer, procurement) for a date range, as background jobs.
//
// Request validates the type and range, and stores the report row and
// queues its GenerateReports job in one transaction. Generate (the job)
// reads the tenant's rows in one consistent snapshot, computes the figures
// in exact decimal arithmetic, writes the JSON document through Files
// (atomically, overwriting an earlier run's), then marks the row completed
// and notifies the requester in one transaction. Balances, stock levels
// and statuses are those at the end of the range's last day, rebuilt from
// the ledgers and timestamps rather than read from today's state (only
// expiring batches are listed with their current quantities, as batches
// keep no history), so a report of a past range does not drift with
// today's data.
//
// It owns the reports table and the report documents' shape. It does not
// own where files live (Files: reportfs on disk) or how the job reaches a
// worker (workers/jobs).
package report
