// Package bulkimport imports CSV files of products, customers, vendors or
// stock into a tenant, as the background job ProcessBulkImport.
//
// It owns the import records (import_logs), the uploaded files under the
// data directory, the streaming CSV reader, the mapping of our fields to
// the file's columns, row validation, and the job that applies valid rows
// through the domain services (product, crm, procurement, inventory), so
// every imported row writes the same rows and events as the API would. It
// does not own those rows: it reaches them through small interfaces.
//
// Products, the type imported by the million, differ in how, not in what:
// a batch of them is written at once (the existing ones locked and read in
// one go, new ones inserted and changed ones updated several per
// statement, one ProductCreated or ProductUpdated per row appended
// together), which is exactly what product.Create and product.Update
// write for the same rows. A batch with a row the domain refuses goes row
// by row through product.Service, as every type does.
//
// # Memory and resumption
//
// The upload is streamed to disk, never held in memory; the job reads it
// with encoding/csv, one record at a time, each record bounded in size, so
// memory stays flat whatever the file's size. Rows are applied in batches
// (2,000 per transaction by default); each batch's writes and the import's
// progress (rows handled and the byte offset after the last one) commit
// together. A job that runs again, after a crash, a timeout or a retry,
// seeks to that offset and carries on: no row is applied twice.
//
// # Idempotence
//
// Products are upserted by SKU, customers by email, vendors by name, so
// importing the same file again creates nothing new. An inventory row is a
// stock movement in; it is keyed by the file's SHA-256 and the row number
// (import_stock_rows), so a second import of the same file, byte for byte,
// moves no stock again (its rows count as skipped).
package bulkimport
