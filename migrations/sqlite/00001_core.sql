-- Core schema, SQLite flavour of postgres/00001_core.sql: same tables,
-- columns and keys. STRICT tables. Timestamps are fixed-width RFC 3339 UTC
-- text with microseconds ("2006-01-02T15:04:05.000000Z") so they sort as
-- text, dates "2006-01-02", money exact decimal text, JSON text.

-- +goose Up
CREATE TABLE tenants (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    created_at TEXT NOT NULL
) STRICT;

CREATE TABLE users (
    tenant_id        TEXT NOT NULL REFERENCES tenants (id),
    id               TEXT NOT NULL,
    name             TEXT NOT NULL DEFAULT '',
    email            TEXT NOT NULL DEFAULT '',
    perms            TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(perms) AND json_type(perms) = 'array'),
    notification_seq INTEGER NOT NULL DEFAULT 0,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id)
) STRICT;

CREATE TABLE products (
    tenant_id     TEXT NOT NULL,
    id            TEXT NOT NULL,
    sku           TEXT NOT NULL,
    name          TEXT NOT NULL,
    price         TEXT NOT NULL,
    reorder_level INTEGER NOT NULL DEFAULT 0,
    on_hand       INTEGER NOT NULL DEFAULT 0 CHECK (on_hand >= 0),
    low_stock     INTEGER NOT NULL DEFAULT 0 CHECK (low_stock IN (0, 1)),
    deleted_at    TEXT,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id)
) STRICT;
CREATE UNIQUE INDEX products_live_sku ON products (tenant_id, sku) WHERE deleted_at IS NULL;

CREATE TABLE locations (
    tenant_id  TEXT NOT NULL,
    id         TEXT NOT NULL,
    code       TEXT NOT NULL,
    name       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, code)
) STRICT;

CREATE TABLE stock_levels (
    tenant_id   TEXT NOT NULL,
    product_id  TEXT NOT NULL,
    location_id TEXT NOT NULL,
    on_hand     INTEGER NOT NULL CHECK (on_hand >= 0),
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (tenant_id, product_id, location_id),
    FOREIGN KEY (tenant_id, product_id) REFERENCES products (tenant_id, id),
    FOREIGN KEY (tenant_id, location_id) REFERENCES locations (tenant_id, id)
) STRICT;

CREATE TABLE stock_movements (
    tenant_id     TEXT NOT NULL,
    id            TEXT NOT NULL,
    product_id    TEXT NOT NULL,
    location_id   TEXT NOT NULL,
    quantity      INTEGER NOT NULL,
    unit_cost     TEXT,
    batch_number  TEXT NOT NULL DEFAULT '',
    expiry_date   TEXT,
    reason        TEXT NOT NULL DEFAULT '',
    actor_id      TEXT NOT NULL DEFAULT '',
    on_hand_after INTEGER NOT NULL,
    created_at    TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, product_id) REFERENCES products (tenant_id, id),
    FOREIGN KEY (tenant_id, location_id) REFERENCES locations (tenant_id, id)
) STRICT;
CREATE INDEX stock_movements_product ON stock_movements (tenant_id, product_id, created_at, id);
CREATE INDEX stock_movements_tenant ON stock_movements (tenant_id, created_at, id);

-- AUTOINCREMENT: pos is never reused, even after the newest row is deleted.
CREATE TABLE events (
    pos            INTEGER PRIMARY KEY AUTOINCREMENT,
    id             TEXT NOT NULL UNIQUE,
    tenant_id      TEXT NOT NULL,
    actor_id       TEXT NOT NULL DEFAULT '',
    type           TEXT NOT NULL,
    aggregate_type TEXT NOT NULL DEFAULT '',
    aggregate_id   TEXT NOT NULL DEFAULT '',
    occurred_at    TEXT NOT NULL,
    payload        TEXT NOT NULL CHECK (json_valid(payload)),
    published_at   TEXT
) STRICT;
CREATE INDEX events_unpublished ON events (pos) WHERE published_at IS NULL;
CREATE INDEX events_tenant ON events (tenant_id, pos);
CREATE INDEX events_tenant_type ON events (tenant_id, type, pos);

CREATE TABLE processed_events (
    listener     TEXT NOT NULL,
    event_id     TEXT NOT NULL,
    processed_at TEXT NOT NULL,
    PRIMARY KEY (listener, event_id)
) STRICT;

CREATE TABLE notifications (
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
CREATE UNIQUE INDEX notifications_inbox ON notifications (tenant_id, user_id, seq);
CREATE INDEX notifications_unread ON notifications (tenant_id, user_id, seq) WHERE read_at IS NULL;

CREATE TABLE failed_jobs (
    id        TEXT PRIMARY KEY,
    queue     TEXT NOT NULL,
    job       TEXT NOT NULL,
    tenant_id TEXT NOT NULL DEFAULT '',
    payload   TEXT NOT NULL CHECK (json_valid(payload)),
    attempts  INTEGER NOT NULL DEFAULT 0,
    error     TEXT NOT NULL DEFAULT '',
    failed_at TEXT NOT NULL
) STRICT;
CREATE INDEX failed_jobs_failed_at ON failed_jobs (failed_at, id);

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;

-- +goose Down
DROP TABLE settings;
DROP TABLE failed_jobs;
DROP TABLE notifications;
DROP TABLE processed_events;
DROP TABLE events;
DROP TABLE stock_movements;
DROP TABLE stock_levels;
DROP TABLE locations;
DROP TABLE products;
DROP TABLE users;
DROP TABLE tenants;
