-- Core schema: tenants and users, the product catalogue and stock ledger,
-- the event outbox, listener idempotency keys, notifications, failed jobs
-- and settings. Every table holding tenant data carries tenant_id, and rows
-- that refer to each other do so through (tenant_id, id) so that a row can
-- never point at another tenant's row.

-- +goose Up
CREATE TABLE tenants (
    id         text PRIMARY KEY,
    name       text NOT NULL,
    created_at timestamptz NOT NULL
);

CREATE TABLE users (
    tenant_id        text NOT NULL REFERENCES tenants (id),
    id               text NOT NULL,
    name             text NOT NULL DEFAULT '',
    email            text NOT NULL DEFAULT '',
    perms            jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(perms) = 'array'),
    -- Last notification sequence number handed out. The row lock taken by
    -- incrementing it orders concurrent inserters, so seq order is commit order.
    notification_seq bigint NOT NULL DEFAULT 0,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

CREATE TABLE products (
    tenant_id     text NOT NULL,
    id            uuid NOT NULL,
    sku           text NOT NULL,
    name          text NOT NULL,
    price         numeric(20, 4) NOT NULL,
    reorder_level bigint NOT NULL DEFAULT 0,
    on_hand       bigint NOT NULL DEFAULT 0 CHECK (on_hand >= 0),
    low_stock     boolean NOT NULL DEFAULT false,
    deleted_at    timestamptz,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
-- A SKU is unique among a tenant's live products: a deleted product frees it.
CREATE UNIQUE INDEX products_live_sku ON products (tenant_id, sku) WHERE deleted_at IS NULL;

CREATE TABLE locations (
    tenant_id  text NOT NULL,
    id         uuid NOT NULL,
    code       text NOT NULL,
    name       text NOT NULL,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, code)
);

CREATE TABLE stock_levels (
    tenant_id   text NOT NULL,
    product_id  uuid NOT NULL,
    location_id uuid NOT NULL,
    on_hand     bigint NOT NULL CHECK (on_hand >= 0),
    updated_at  timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, product_id, location_id),
    FOREIGN KEY (tenant_id, product_id) REFERENCES products (tenant_id, id),
    FOREIGN KEY (tenant_id, location_id) REFERENCES locations (tenant_id, id)
);

-- The stock ledger: append-only.
CREATE TABLE stock_movements (
    tenant_id     text NOT NULL,
    id            uuid NOT NULL,
    product_id    uuid NOT NULL,
    location_id   uuid NOT NULL,
    quantity      bigint NOT NULL,
    unit_cost     numeric(20, 4),
    batch_number  text NOT NULL DEFAULT '',
    expiry_date   date,
    reason        text NOT NULL DEFAULT '',
    actor_id      text NOT NULL DEFAULT '',
    on_hand_after bigint NOT NULL,
    created_at    timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, product_id) REFERENCES products (tenant_id, id),
    FOREIGN KEY (tenant_id, location_id) REFERENCES locations (tenant_id, id)
);
CREATE INDEX stock_movements_product ON stock_movements (tenant_id, product_id, created_at, id);
CREATE INDEX stock_movements_tenant ON stock_movements (tenant_id, created_at, id);

-- The outbox, append-only apart from published_at. pos orders events by
-- insertion. The relay selects unpublished rows (never "pos > last seen"),
-- so rows committing out of pos order are not skipped.
CREATE TABLE events (
    pos            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id             uuid NOT NULL UNIQUE,
    tenant_id      text NOT NULL,
    actor_id       text NOT NULL DEFAULT '',
    type           text NOT NULL,
    aggregate_type text NOT NULL DEFAULT '',
    aggregate_id   text NOT NULL DEFAULT '',
    occurred_at    timestamptz NOT NULL,
    -- json, not jsonb: the payload is returned byte for byte as written.
    payload        json NOT NULL,
    published_at   timestamptz
);
CREATE INDEX events_unpublished ON events (pos) WHERE published_at IS NULL;
CREATE INDEX events_tenant ON events (tenant_id, pos);
CREATE INDEX events_tenant_type ON events (tenant_id, type, pos);

-- Wakes relays in other processes once a transaction that appended events
-- commits (notifications are delivered on commit, never on rollback). The
-- payload is the schema so that a listener ignores other schemas' events.
-- +goose StatementBegin
CREATE FUNCTION notifyhub_notify_events() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('notifyhub_events', TG_TABLE_SCHEMA);
    RETURN NULL;
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER events_notify AFTER INSERT ON events
    FOR EACH STATEMENT EXECUTE FUNCTION notifyhub_notify_events();

-- Idempotency keys of listeners: written in the same transaction as the effect.
CREATE TABLE processed_events (
    listener     text NOT NULL,
    event_id     text NOT NULL,
    processed_at timestamptz NOT NULL,
    PRIMARY KEY (listener, event_id)
);

CREATE TABLE notifications (
    id         uuid PRIMARY KEY,
    tenant_id  text NOT NULL,
    user_id    text NOT NULL,
    seq        bigint NOT NULL,
    type       text NOT NULL,
    severity   text NOT NULL,
    title      text NOT NULL,
    body       text NOT NULL DEFAULT '',
    action_url text NOT NULL DEFAULT '',
    data       json NOT NULL,
    read_at    timestamptz,
    created_at timestamptz NOT NULL,
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id)
);
-- The inbox: newest first is seq descending.
CREATE UNIQUE INDEX notifications_inbox ON notifications (tenant_id, user_id, seq);
CREATE INDEX notifications_unread ON notifications (tenant_id, user_id, seq) WHERE read_at IS NULL;

CREATE TABLE failed_jobs (
    id        uuid PRIMARY KEY,
    queue     text NOT NULL,
    job       text NOT NULL,
    tenant_id text NOT NULL DEFAULT '',
    payload   json NOT NULL,
    attempts  integer NOT NULL DEFAULT 0,
    error     text NOT NULL DEFAULT '',
    failed_at timestamptz NOT NULL
);
CREATE INDEX failed_jobs_failed_at ON failed_jobs (failed_at, id);

CREATE TABLE settings (
    key   text PRIMARY KEY,
    value text NOT NULL
);

-- +goose Down
DROP TABLE settings;
DROP TABLE failed_jobs;
DROP TABLE notifications;
DROP TABLE processed_events;
DROP TRIGGER events_notify ON events;
DROP FUNCTION notifyhub_notify_events();
DROP TABLE events;
DROP TABLE stock_movements;
DROP TABLE stock_levels;
DROP TABLE locations;
DROP TABLE products;
DROP TABLE users;
DROP TABLE tenants;
