-- import_keys without its foreign key to import_logs, and the index that
-- lets the relay claim dispatched jobs first (see the PostgreSQL
-- migration). SQLite drops a constraint by rebuilding the table.

-- +goose Up
CREATE TABLE import_keys_new (
    tenant_id   TEXT NOT NULL,
    import_id   TEXT NOT NULL,
    natural_key TEXT NOT NULL,
    row_no      INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, import_id, natural_key)
) STRICT;
INSERT INTO import_keys_new SELECT tenant_id, import_id, natural_key, row_no FROM import_keys;
DROP TABLE import_keys;
ALTER TABLE import_keys_new RENAME TO import_keys;
CREATE INDEX events_unpublished_jobs ON events (pos) WHERE published_at IS NULL AND type = 'notifyhub.job';

-- +goose Down
DROP INDEX events_unpublished_jobs;
CREATE TABLE import_keys_old (
    tenant_id   TEXT NOT NULL,
    import_id   TEXT NOT NULL,
    natural_key TEXT NOT NULL,
    row_no      INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, import_id, natural_key),
    FOREIGN KEY (tenant_id, import_id) REFERENCES import_logs (tenant_id, id)
) STRICT;
INSERT INTO import_keys_old SELECT tenant_id, import_id, natural_key, row_no FROM import_keys;
DROP TABLE import_keys;
ALTER TABLE import_keys_old RENAME TO import_keys;
