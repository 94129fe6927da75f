// Package inventory owns the stock ledger: append-only stock movements, on
// hand per product and location, stock batches with expiry dates, low-stock
// detection and the expiry detector. A movement writes
// StockMovementRecorded, and LowStockDetected when the product's total on
// hand crosses below its reorder level, in the same transaction; the
// ExpiryDetector, run on a schedule, raises StockExpiring once per batch and
// threshold.
package inventory
