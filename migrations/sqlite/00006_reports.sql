-- Reports (POST /api/v1/reports): one row per requested report. The row
-- and its GenerateReports job are written in one transaction; the job
-- writes the JSON file under the data directory (see README, "Reports"),
-- then marks the row completed and notifies the requester in one
-- transaction, so the notification is sent once.

-- SQLite flavour of postgres/00006_reports.sql: same table, columns and keys.

-- +goose Up
CREATE TABLE reports (
    tenant_id    TEXT NOT NULL,
    id           TEXT NOT NULL,
    type         TEXT NOT NULL
                 CHECK (type IN ('sales', 'inventory', 'financial', 'customer', 'procurement')),
    -- {"from": "YYYY-MM-DD", "to": "YYYY-MM-DD"}, both days included
    parameters   TEXT NOT NULL CHECK (json_valid(parameters)),
    status       TEXT NOT NULL DEFAULT 'pending'
                 CHECK (status IN ('pending', 'processing', 'completed', 'failed')),
    -- The file's path relative to the data directory, once generated.
    file         TEXT NOT NULL DEFAULT '',
    -- Why the last run failed ('' unless failed).
    error        TEXT NOT NULL DEFAULT '',
    requested_by TEXT NOT NULL DEFAULT '',
    created_at   TEXT NOT NULL,
    generated_at TEXT,
    failed_at    TEXT,
    PRIMARY KEY (tenant_id, id)
) STRICT;

-- Reports read a tenant's rows by date range.
CREATE INDEX orders_tenant_created ON orders (tenant_id, created_at);
CREATE INDEX invoices_tenant_created ON invoices (tenant_id, created_at);
CREATE INDEX payments_tenant_received ON payments (tenant_id, received_at);
CREATE INDEX purchase_orders_tenant_created ON purchase_orders (tenant_id, created_at);

-- +goose Down
DROP INDEX purchase_orders_tenant_created;
DROP INDEX payments_tenant_received;
DROP INDEX invoices_tenant_created;
DROP INDEX orders_tenant_created;
DROP TABLE reports;
