// Package inventory owns the stock ledger: append-only stock movements, on
// hand per product and location, and low-stock detection. A movement writes
// StockMovementRecorded, and LowStockDetected when the product's total on
// hand crosses below its reorder level, in the same transaction.
package inventory
