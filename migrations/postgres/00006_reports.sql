-- Reports (POST /api/v1/reports): one row per requested report. The row
-- and its GenerateReports job are written in one transaction; the job
-- writes the JSON file under the data directory (see README, "Reports"),
-- then marks the row completed and notifies the requester in one
-- transaction, so the notification is sent once.

-- +goose Up
CREATE TABLE reports (
    tenant_id    text NOT NULL,
    id           uuid NOT NULL,
    type         text NOT NULL
                 CHECK (type IN ('sales', 'inventory', 'financial', 'customer', 'procurement')),
    -- {"from": "YYYY-MM-DD", "to": "YYYY-MM-DD"}, both days included
    parameters   json NOT NULL,
    status       text NOT NULL DEFAULT 'pending'
                 CHECK (status IN ('pending', 'processing', 'completed', 'failed')),
    -- The file's path relative to the data directory, once generated.
    file         text NOT NULL DEFAULT '',
    -- Why the last run failed ('' unless failed).
    error        text NOT NULL DEFAULT '',
    requested_by text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL,
    generated_at timestamptz,
    failed_at    timestamptz,
    PRIMARY KEY (tenant_id, id)
);

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
