-- External data syncs (SyncExternalData): each tenant's endpoint, one log
-- row per sync run, the circuit breaker every worker shares, and which
-- external order numbers became which sales orders.

-- +goose Up
-- A tenant's external endpoint. auth_header is sent as the Authorization
-- header and never shown by the API (only whether one is set).
CREATE TABLE sync_configs (
    tenant_id       text PRIMARY KEY,
    base_url        text NOT NULL,
    auth_header     text NOT NULL DEFAULT '',
    timeout_seconds integer NOT NULL CHECK (timeout_seconds BETWEEN 1 AND 120),
    updated_by      text NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL
);

-- One sync run. next_url is the page to fetch next; it moves forward in
-- the same transaction as that page's counts, so a retried or redelivered
-- job resumes at the first page not yet counted.
CREATE TABLE sync_logs (
    tenant_id    text NOT NULL,
    id           uuid NOT NULL,
    type         text NOT NULL CHECK (type IN ('products', 'customers', 'inventory', 'orders')),
    status       text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'processing', 'completed', 'failed')),
    requested_by text NOT NULL DEFAULT '',
    endpoint     text NOT NULL DEFAULT '',
    next_url     text NOT NULL DEFAULT '',
    pages        integer NOT NULL DEFAULT 0,
    fetched      bigint NOT NULL DEFAULT 0,
    upserted     bigint NOT NULL DEFAULT 0,
    failed       bigint NOT NULL DEFAULT 0,
    -- [{"page", "row", "key", "message"}], the first 100 failures
    errors       json NOT NULL DEFAULT '[]',
    attempts     integer NOT NULL DEFAULT 0,
    last_error   text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL,
    started_at   timestamptz,
    completed_at timestamptz,
    failed_at    timestamptz,
    PRIMARY KEY (tenant_id, id)
);

-- The circuit breaker of a tenant's endpoint, shared by every worker: each
-- request checks and updates it under the row lock.
CREATE TABLE sync_breakers (
    tenant_id   text NOT NULL,
    endpoint    text NOT NULL,
    state       text NOT NULL DEFAULT 'closed' CHECK (state IN ('closed', 'open', 'half_open')),
    failures    integer NOT NULL DEFAULT 0,
    open_until  timestamptz,
    trial_until timestamptz,
    last_error  text NOT NULL DEFAULT '',
    updated_at  timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, endpoint)
);

-- The sales order each external order number became: the natural key that
-- makes syncing orders idempotent.
CREATE TABLE sync_order_refs (
    tenant_id  text NOT NULL,
    number     text NOT NULL,
    order_id   uuid NOT NULL,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, number),
    FOREIGN KEY (tenant_id, order_id) REFERENCES orders (tenant_id, id)
);

-- +goose Down
DROP TABLE sync_order_refs;
DROP TABLE sync_breakers;
DROP TABLE sync_logs;
DROP TABLE sync_configs;
