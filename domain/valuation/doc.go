// Package valuation values a tenant's stock from the stock ledger, by FIFO
// cost layers and by weighted moving average cost, per product and
// location. fifo.go is the calculation: pure, exact decimal arithmetic, no
// I/O. service.go runs it as the RecalculateInventoryValuation background
// job (POST /api/v1/valuations) and stores each run's results in one
// transaction. The ledger itself belongs to domain/inventory; this package
// only reads it.
package valuation
