-- Inventory valuations (POST /api/v1/valuations): the run of the
-- RecalculateInventoryValuation job and its result lines, FIFO and
-- weighted average cost per product and location.

-- +goose Up
-- One valuation run. The job records progress per page of products, then
-- writes every line and the totals in one transaction, replacing any
-- lines an earlier run of the same job left: one set of results per
-- valuation, however often the job ran.
CREATE TABLE valuations (
    tenant_id      text NOT NULL,
    id             uuid NOT NULL,
    requested_by   text NOT NULL DEFAULT '',
    scope          text NOT NULL CHECK (scope IN ('all', 'product', 'location')),
    product_id     uuid,
    location_id    uuid,
    status         text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'processing', 'completed', 'failed')),
    products_total bigint NOT NULL DEFAULT 0,
    products_done  bigint NOT NULL DEFAULT 0,
    -- Totals of the lines, set on completion.
    line_count     bigint NOT NULL DEFAULT 0,
    total_quantity bigint NOT NULL DEFAULT 0,
    fifo_value     numeric(20, 4) NOT NULL DEFAULT 0,
    average_value  numeric(20, 4) NOT NULL DEFAULT 0,
    warning_count  bigint NOT NULL DEFAULT 0,
    error          text NOT NULL DEFAULT '',
    created_at     timestamptz NOT NULL,
    started_at     timestamptz,
    completed_at   timestamptz,
    failed_at      timestamptz,
    PRIMARY KEY (tenant_id, id),
    CHECK ((scope = 'product') = (product_id IS NOT NULL)),
    CHECK ((scope = 'location') = (location_id IS NOT NULL)),
    FOREIGN KEY (tenant_id, product_id) REFERENCES products (tenant_id, id),
    FOREIGN KEY (tenant_id, location_id) REFERENCES locations (tenant_id, id)
);

-- One product at one location. line_no orders the lines by SKU, then
-- location code, as valued.
CREATE TABLE valuation_lines (
    tenant_id     text NOT NULL,
    valuation_id  uuid NOT NULL,
    line_no       integer NOT NULL CHECK (line_no > 0),
    product_id    uuid NOT NULL,
    location_id   uuid NOT NULL,
    sku           text NOT NULL,
    name          text NOT NULL,
    location_code text NOT NULL,
    quantity      bigint NOT NULL,
    fifo_value    numeric(20, 4) NOT NULL,
    average_cost  numeric(20, 4) NOT NULL,
    average_value numeric(20, 4) NOT NULL,
    -- [{"quantity", "unit_cost", "received_at", "batch_number", "expiry_date"?, "movement_id", "cost_source"}], oldest first
    layers        json NOT NULL,
    -- [{"code", "message"}]
    warnings      json NOT NULL,
    PRIMARY KEY (tenant_id, valuation_id, line_no),
    UNIQUE (tenant_id, valuation_id, product_id, location_id),
    FOREIGN KEY (tenant_id, valuation_id) REFERENCES valuations (tenant_id, id),
    FOREIGN KEY (tenant_id, product_id) REFERENCES products (tenant_id, id),
    FOREIGN KEY (tenant_id, location_id) REFERENCES locations (tenant_id, id)
);

-- +goose Down
DROP TABLE valuation_lines;
DROP TABLE valuations;
