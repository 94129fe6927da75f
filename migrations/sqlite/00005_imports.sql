-- CSV bulk imports (POST /api/v1/imports, notifyhub import): one row per
-- import with its progress, the natural keys seen so far in its file, and
-- the stock rows already applied from a file.

-- +goose Up
-- One import. The job reads the uploaded file in batches of rows; each
-- batch's domain writes and the progress below (resume_row, resume_offset,
-- counts, errors) commit in one transaction, so a retried or taken-over job
-- continues after the last committed row and never imports a row twice.
CREATE TABLE import_logs (
    tenant_id     TEXT NOT NULL,
    id            TEXT NOT NULL,
    type          TEXT NOT NULL CHECK (type IN ('products', 'customers', 'vendors', 'inventory')),
    status        TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'processing', 'completed', 'failed')),
    requested_by  TEXT NOT NULL DEFAULT '',
    file_name     TEXT NOT NULL DEFAULT '',
    -- Relative to the data directory, under the tenant's own folder; never
    -- shown by the API.
    file_path     TEXT NOT NULL,
    file_size     INTEGER NOT NULL CHECK (file_size >= 0),
    file_sha256   TEXT NOT NULL,
    -- {"our field": "CSV header"}
    mapping       TEXT NOT NULL CHECK (json_valid(mapping)),
    counted       INTEGER NOT NULL DEFAULT 0 CHECK (counted IN (0, 1)),
    total_rows    INTEGER NOT NULL DEFAULT 0,
    imported_rows INTEGER NOT NULL DEFAULT 0,
    failed_rows   INTEGER NOT NULL DEFAULT 0,
    skipped_rows  INTEGER NOT NULL DEFAULT 0,
    -- [{"row", "message"}], the first 1000 failed rows
    errors        TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(errors)),
    resume_row    INTEGER NOT NULL DEFAULT 0,
    resume_offset INTEGER NOT NULL DEFAULT 0,
    last_error    TEXT NOT NULL DEFAULT '',
    created_at    TEXT NOT NULL,
    started_at    TEXT,
    completed_at  TEXT,
    failed_at     TEXT,
    PRIMARY KEY (tenant_id, id)
) STRICT;

-- The natural keys (SKU, email, vendor name) of the rows an import has
-- imported so far, with the row that had each: a later row with the same
-- key is a duplicate. Written in each batch's transaction, deleted when the
-- import completes.
CREATE TABLE import_keys (
    tenant_id   TEXT NOT NULL,
    import_id   TEXT NOT NULL,
    natural_key TEXT NOT NULL,
    row_no      INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, import_id, natural_key),
    FOREIGN KEY (tenant_id, import_id) REFERENCES import_logs (tenant_id, id)
) STRICT;

-- The stock movement each inventory row made, keyed by the file's content
-- and the row: importing the same file again (or a job running again)
-- finds the row applied and records nothing.
CREATE TABLE import_stock_rows (
    tenant_id   TEXT NOT NULL,
    file_sha256 TEXT NOT NULL,
    row_no      INTEGER NOT NULL,
    import_id   TEXT NOT NULL,
    movement_id TEXT NOT NULL,
    PRIMARY KEY (tenant_id, file_sha256, row_no),
    FOREIGN KEY (tenant_id, import_id) REFERENCES import_logs (tenant_id, id),
    FOREIGN KEY (tenant_id, movement_id) REFERENCES stock_movements (tenant_id, id)
) STRICT;

-- +goose Down
DROP TABLE import_stock_rows;
DROP TABLE import_keys;
DROP TABLE import_logs;
