-- A tenant broadcast is stored once, not once per user (see the
-- PostgreSQL migration of the same number for the whole design): the
-- tenant's broadcast counter, each user's base, each personal row's
-- broadcast seq, the broadcasts and the per-user reads of them.

-- +goose Up
ALTER TABLE tenants ADD COLUMN broadcast_seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN broadcast_base INTEGER NOT NULL DEFAULT 0;
ALTER TABLE notifications ADD COLUMN bseq INTEGER NOT NULL DEFAULT 0;

CREATE TABLE broadcasts (
    id         TEXT PRIMARY KEY,
    tenant_id  TEXT NOT NULL REFERENCES tenants (id),
    bseq       INTEGER NOT NULL,
    type       TEXT NOT NULL,
    severity   TEXT NOT NULL,
    title      TEXT NOT NULL,
    body       TEXT NOT NULL DEFAULT '',
    action_url TEXT NOT NULL DEFAULT '',
    data       TEXT NOT NULL CHECK (json_valid(data)),
    created_at TEXT NOT NULL,
    UNIQUE (tenant_id, bseq)
) STRICT;

CREATE TABLE broadcast_reads (
    tenant_id TEXT NOT NULL,
    user_id   TEXT NOT NULL,
    bseq      INTEGER NOT NULL,
    read_at   TEXT NOT NULL,
    PRIMARY KEY (tenant_id, user_id, bseq)
) STRICT;

-- +goose Down
DROP TABLE broadcast_reads;
DROP TABLE broadcasts;
ALTER TABLE notifications DROP COLUMN bseq;
ALTER TABLE users DROP COLUMN broadcast_base;
ALTER TABLE tenants DROP COLUMN broadcast_seq;
