-- External data syncs (SyncExternalData): each tenant's endpoint, one log
-- row per sync run, the circuit breaker every worker shares, and which
-- external order numbers became which sales orders.

-- +goose Up
-- A tenant's external endpoint. auth_header is sent as the Authorization
-- header and never shown by the API (only whether one is set).
CREATE TABLE sync_configs (
    tenant_id       TEXT PRIMARY KEY,
    base_url        TEXT NOT NULL,
    auth_header     TEXT NOT NULL DEFAULT '',
    timeout_seconds INTEGER NOT NULL CHECK (timeout_seconds BETWEEN 1 AND 120),
    updated_by      TEXT NOT NULL DEFAULT '',
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
) STRICT;

-- One sync run. next_url is the page to fetch next; it moves forward in
-- the same transaction as that page's counts, so a retried or redelivered
-- job resumes at the first page not yet counted.
CREATE TABLE sync_logs (
    tenant_id    TEXT NOT NULL,
    id           TEXT NOT NULL,
    type         TEXT NOT NULL CHECK (type IN ('products', 'customers', 'inventory', 'orders')),
    status       TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'processing', 'completed', 'failed')),
    requested_by TEXT NOT NULL DEFAULT '',
    endpoint     TEXT NOT NULL DEFAULT '',
    next_url     TEXT NOT NULL DEFAULT '',
    pages        INTEGER NOT NULL DEFAULT 0,
    fetched      INTEGER NOT NULL DEFAULT 0,
    upserted     INTEGER NOT NULL DEFAULT 0,
    failed       INTEGER NOT NULL DEFAULT 0,
    -- [{"page", "row", "key", "message"}], the first 100 failures
    errors       TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(errors)),
    attempts     INTEGER NOT NULL DEFAULT 0,
    last_error   TEXT NOT NULL DEFAULT '',
    created_at   TEXT NOT NULL,
    started_at   TEXT,
    completed_at TEXT,
    failed_at    TEXT,
    PRIMARY KEY (tenant_id, id)
) STRICT;

-- The circuit breaker of a tenant's endpoint, shared by every worker: each
-- request checks and updates it under the row lock.
CREATE TABLE sync_breakers (
    tenant_id   TEXT NOT NULL,
    endpoint    TEXT NOT NULL,
    state       TEXT NOT NULL DEFAULT 'closed' CHECK (state IN ('closed', 'open', 'half_open')),
    failures    INTEGER NOT NULL DEFAULT 0,
    open_until  TEXT,
    trial_until TEXT,
    last_error  TEXT NOT NULL DEFAULT '',
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (tenant_id, endpoint)
) STRICT;

-- The sales order each external order number became: the natural key that
-- makes syncing orders idempotent.
CREATE TABLE sync_order_refs (
    tenant_id  TEXT NOT NULL,
    number     TEXT NOT NULL,
    order_id   TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, number),
    FOREIGN KEY (tenant_id, order_id) REFERENCES orders (tenant_id, id)
) STRICT;

-- +goose Down
DROP TABLE sync_order_refs;
DROP TABLE sync_breakers;
DROP TABLE sync_logs;
DROP TABLE sync_configs;
