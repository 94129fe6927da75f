-- The notifications -> users foreign key checked every inserted row. The
-- store already guarantees the row: every insert takes the user's next seq
-- by updating that row (creating it when unknown) in the same transaction,
-- and users are never deleted (storetest checks both). SQLite cannot drop a
-- constraint: the table is rebuilt without it (nothing references it).

-- +goose Up
CREATE TABLE notifications_new (
    id         TEXT PRIMARY KEY,
    tenant_id  TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    seq        INTEGER NOT NULL,
    type       TEXT NOT NULL,
    severity   TEXT NOT NULL,
    title      TEXT NOT NULL,
    body       TEXT NOT NULL DEFAULT '',
    action_url TEXT NOT NULL DEFAULT '',
    data       TEXT NOT NULL CHECK (json_valid(data)),
    read_at    TEXT,
    created_at TEXT NOT NULL
) STRICT;
INSERT INTO notifications_new SELECT id, tenant_id, user_id, seq, type, severity, title, body, action_url, data, read_at, created_at
    FROM notifications;
DROP TABLE notifications;
ALTER TABLE notifications_new RENAME TO notifications;
CREATE UNIQUE INDEX notifications_inbox ON notifications (tenant_id, user_id, seq);
CREATE INDEX notifications_unread ON notifications (tenant_id, user_id, seq) WHERE read_at IS NULL;

-- +goose Down
CREATE TABLE notifications_old (
    id         TEXT PRIMARY KEY,
    tenant_id  TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    seq        INTEGER NOT NULL,
    type       TEXT NOT NULL,
    severity   TEXT NOT NULL,
    title      TEXT NOT NULL,
    body       TEXT NOT NULL DEFAULT '',
    action_url TEXT NOT NULL DEFAULT '',
    data       TEXT NOT NULL CHECK (json_valid(data)),
    read_at    TEXT,
    created_at TEXT NOT NULL,
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id)
) STRICT;
INSERT INTO notifications_old SELECT id, tenant_id, user_id, seq, type, severity, title, body, action_url, data, read_at, created_at
    FROM notifications;
DROP TABLE notifications;
ALTER TABLE notifications_old RENAME TO notifications;
CREATE UNIQUE INDEX notifications_inbox ON notifications (tenant_id, user_id, seq);
CREATE INDEX notifications_unread ON notifications (tenant_id, user_id, seq) WHERE read_at IS NULL;
