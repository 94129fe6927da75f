-- Inventory valuations (POST /api/v1/valuations): the run of the
-- RecalculateInventoryValuation job and its result lines, FIFO and
-- weighted average cost per product and location. SQLite flavour of
-- postgres/00007_valuations.sql.

-- +goose Up
-- One valuation run. The job records progress per page of products, then
-- writes every line and the totals in one transaction, replacing any
-- lines an earlier run of the same job left: one set of results per
-- valuation, however often the job ran.
CREATE TABLE valuations (
    tenant_id      TEXT NOT NULL,
    id             TEXT NOT NULL,
    requested_by   TEXT NOT NULL DEFAULT '',
    scope          TEXT NOT NULL CHECK (scope IN ('all', 'product', 'location')),
    product_id     TEXT,
    location_id    TEXT,
    status         TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'processing', 'completed', 'failed')),
    products_total INTEGER NOT NULL DEFAULT 0,
    products_done  INTEGER NOT NULL DEFAULT 0,
    -- Totals of the lines, set on completion.
    line_count     INTEGER NOT NULL DEFAULT 0,
    total_quantity INTEGER NOT NULL DEFAULT 0,
    fifo_value     TEXT NOT NULL DEFAULT '0',
    average_value  TEXT NOT NULL DEFAULT '0',
    warning_count  INTEGER NOT NULL DEFAULT 0,
    error          TEXT NOT NULL DEFAULT '',
    created_at     TEXT NOT NULL,
    started_at     TEXT,
    completed_at   TEXT,
    failed_at      TEXT,
    PRIMARY KEY (tenant_id, id),
    CHECK ((scope = 'product') = (product_id IS NOT NULL)),
    CHECK ((scope = 'location') = (location_id IS NOT NULL)),
    FOREIGN KEY (tenant_id, product_id) REFERENCES products (tenant_id, id),
    FOREIGN KEY (tenant_id, location_id) REFERENCES locations (tenant_id, id)
) STRICT;

-- One product at one location. line_no orders the lines by SKU, then
-- location code, as valued.
CREATE TABLE valuation_lines (
    tenant_id     TEXT NOT NULL,
    valuation_id  TEXT NOT NULL,
    line_no       INTEGER NOT NULL CHECK (line_no > 0),
    product_id    TEXT NOT NULL,
    location_id   TEXT NOT NULL,
    sku           TEXT NOT NULL,
    name          TEXT NOT NULL,
    location_code TEXT NOT NULL,
    quantity      INTEGER NOT NULL,
    fifo_value    TEXT NOT NULL,
    average_cost  TEXT NOT NULL,
    average_value TEXT NOT NULL,
    -- [{"quantity", "unit_cost", "received_at", "batch_number", "expiry_date"?, "movement_id", "cost_source"}], oldest first
    layers        TEXT NOT NULL CHECK (json_valid(layers)),
    -- [{"code", "message"}]
    warnings      TEXT NOT NULL CHECK (json_valid(warnings)),
    PRIMARY KEY (tenant_id, valuation_id, line_no),
    UNIQUE (tenant_id, valuation_id, product_id, location_id),
    FOREIGN KEY (tenant_id, valuation_id) REFERENCES valuations (tenant_id, id),
    FOREIGN KEY (tenant_id, product_id) REFERENCES products (tenant_id, id),
    FOREIGN KEY (tenant_id, location_id) REFERENCES locations (tenant_id, id)
) STRICT;

-- +goose Down
DROP TABLE valuation_lines;
DROP TABLE valuations;
