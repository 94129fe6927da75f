-- CSV bulk imports (POST /api/v1/imports, notifyhub import): one row per
-- import with its progress, the natural keys seen so far in its file, and
-- the stock rows already applied from a file.

-- +goose Up
-- One import. The job reads the uploaded file in batches of rows; each
-- batch's domain writes and the progress below (resume_row, resume_offset,
-- counts, errors) commit in one transaction, so a retried or taken-over job
-- continues after the last committed row and never imports a row twice.
CREATE TABLE import_logs (
    tenant_id     text NOT NULL,
    id            uuid NOT NULL,
    type          text NOT NULL CHECK (type IN ('products', 'customers', 'vendors', 'inventory')),
    status        text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'processing', 'completed', 'failed')),
    requested_by  text NOT NULL DEFAULT '',
    file_name     text NOT NULL DEFAULT '',
    -- Relative to the data directory, under the tenant's own folder; never
    -- shown by the API.
    file_path     text NOT NULL,
    file_size     bigint NOT NULL CHECK (file_size >= 0),
    file_sha256   text NOT NULL,
    -- {"our field": "CSV header"}
    mapping       json NOT NULL,
    counted       boolean NOT NULL DEFAULT false,
    total_rows    bigint NOT NULL DEFAULT 0,
    imported_rows bigint NOT NULL DEFAULT 0,
    failed_rows   bigint NOT NULL DEFAULT 0,
    skipped_rows  bigint NOT NULL DEFAULT 0,
    -- [{"row", "message"}], the first 1000 failed rows
    errors        json NOT NULL DEFAULT '[]',
    resume_row    bigint NOT NULL DEFAULT 0,
    resume_offset bigint NOT NULL DEFAULT 0,
    last_error    text NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL,
    started_at    timestamptz,
    completed_at  timestamptz,
    failed_at     timestamptz,
    PRIMARY KEY (tenant_id, id)
);

-- The natural keys (SKU, email, vendor name) of the rows an import has
-- imported so far, with the row that had each: a later row with the same
-- key is a duplicate. Written in each batch's transaction, deleted when the
-- import completes.
CREATE TABLE import_keys (
    tenant_id   text NOT NULL,
    import_id   uuid NOT NULL,
    natural_key text NOT NULL,
    row_no      bigint NOT NULL,
    PRIMARY KEY (tenant_id, import_id, natural_key),
    FOREIGN KEY (tenant_id, import_id) REFERENCES import_logs (tenant_id, id)
);

-- The stock movement each inventory row made, keyed by the file's content
-- and the row: importing the same file again (or a job running again)
-- finds the row applied and records nothing.
CREATE TABLE import_stock_rows (
    tenant_id   text NOT NULL,
    file_sha256 text NOT NULL,
    row_no      bigint NOT NULL,
    import_id   uuid NOT NULL,
    movement_id uuid NOT NULL,
    PRIMARY KEY (tenant_id, file_sha256, row_no),
    FOREIGN KEY (tenant_id, import_id) REFERENCES import_logs (tenant_id, id),
    FOREIGN KEY (tenant_id, movement_id) REFERENCES stock_movements (tenant_id, id)
);

-- +goose Down
DROP TABLE import_stock_rows;
DROP TABLE import_keys;
DROP TABLE import_logs;
