-- The rest of the ERP: CRM (customers, leads), sales orders, invoices and
-- payments, procurement (vendors, purchase orders, goods receipts), stock
-- batches with expiry, and the once-per-threshold record of the scheduled
-- detectors. As in the core schema, rows refer to each other through
-- (tenant_id, id), so no row can point at another tenant's row. Money is
-- exact decimal text (numeric(20,4) on PostgreSQL), never float.

-- SQLite flavour of postgres/00003_erp.sql: same tables, columns and keys.

-- +goose Up
-- Per-tenant document numbers (SO-000001, INV-000001, PO-000001): the row
-- lock taken by the increment makes numbers unique and gap-free per commit.
CREATE TABLE counters (
    tenant_id TEXT NOT NULL,
    name      TEXT NOT NULL,
    value     INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, name)
) STRICT;

CREATE TABLE customers (
    tenant_id           TEXT NOT NULL,
    id                  TEXT NOT NULL,
    name                TEXT NOT NULL,
    email               TEXT NOT NULL DEFAULT '', -- stored lower-cased
    lead_id             TEXT,
    payment_terms_days  INTEGER NOT NULL DEFAULT 30 CHECK (payment_terms_days BETWEEN 0 AND 365),
    -- Statistics: recomputed from orders, invoices and payments, never incremented.
    total_orders        INTEGER NOT NULL DEFAULT 0,
    total_spent         TEXT NOT NULL DEFAULT 0,
    outstanding_balance TEXT NOT NULL DEFAULT 0,
    last_order_at       TEXT,
    last_payment_at     TEXT,
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id)
) STRICT;
CREATE UNIQUE INDEX customers_email ON customers (tenant_id, email) WHERE email <> '';

CREATE TABLE leads (
    tenant_id    TEXT NOT NULL,
    id           TEXT NOT NULL,
    name         TEXT NOT NULL,
    email        TEXT NOT NULL DEFAULT '',
    status       TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'converted')),
    customer_id  TEXT,
    converted_at TEXT,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, customer_id) REFERENCES customers (tenant_id, id)
) STRICT;

CREATE TABLE orders (
    tenant_id    TEXT NOT NULL,
    id           TEXT NOT NULL,
    number       TEXT NOT NULL,
    customer_id  TEXT NOT NULL,
    status       TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'fulfilled')),
    total        TEXT NOT NULL,
    created_by   TEXT NOT NULL DEFAULT '',
    approved_by  TEXT NOT NULL DEFAULT '',
    approved_at  TEXT,
    fulfilled_by TEXT NOT NULL DEFAULT '',
    fulfilled_at TEXT,
    -- Set by UpdateInventoryOnSale once the order's stock went out; until
    -- then a fulfilled order reserves it, so fulfilments never oversell.
    stock_out_at TEXT,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, number),
    FOREIGN KEY (tenant_id, customer_id) REFERENCES customers (tenant_id, id)
) STRICT;
CREATE INDEX orders_customer ON orders (tenant_id, customer_id, created_at);
CREATE INDEX orders_awaiting_stock_out ON orders (tenant_id) WHERE status = 'fulfilled' AND stock_out_at IS NULL;

CREATE TABLE order_lines (
    tenant_id  TEXT NOT NULL,
    order_id   TEXT NOT NULL,
    line_no    INTEGER NOT NULL,
    product_id TEXT NOT NULL,
    sku        TEXT NOT NULL,
    quantity   INTEGER NOT NULL CHECK (quantity > 0),
    unit_price TEXT NOT NULL,
    amount     TEXT NOT NULL,
    PRIMARY KEY (tenant_id, order_id, line_no),
    FOREIGN KEY (tenant_id, order_id) REFERENCES orders (tenant_id, id),
    FOREIGN KEY (tenant_id, product_id) REFERENCES products (tenant_id, id)
) STRICT;

CREATE TABLE invoices (
    tenant_id   TEXT NOT NULL,
    id          TEXT NOT NULL,
    number      TEXT NOT NULL,
    order_id    TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    status      TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'paid', 'overdue')),
    total       TEXT NOT NULL,
    amount_paid TEXT NOT NULL DEFAULT 0,
    due_date    TEXT NOT NULL,
    paid_at     TEXT,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, number),
    -- One invoice per order: the natural key that makes generation idempotent.
    UNIQUE (tenant_id, order_id),
    FOREIGN KEY (tenant_id, order_id) REFERENCES orders (tenant_id, id),
    FOREIGN KEY (tenant_id, customer_id) REFERENCES customers (tenant_id, id)
) STRICT;
CREATE INDEX invoices_customer ON invoices (tenant_id, customer_id);
CREATE INDEX invoices_due ON invoices (due_date) WHERE status <> 'paid';

CREATE TABLE invoice_lines (
    tenant_id   TEXT NOT NULL,
    invoice_id  TEXT NOT NULL,
    line_no     INTEGER NOT NULL,
    product_id  TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    quantity    INTEGER NOT NULL CHECK (quantity > 0),
    unit_price  TEXT NOT NULL,
    amount      TEXT NOT NULL,
    PRIMARY KEY (tenant_id, invoice_id, line_no),
    FOREIGN KEY (tenant_id, invoice_id) REFERENCES invoices (tenant_id, id),
    FOREIGN KEY (tenant_id, product_id) REFERENCES products (tenant_id, id)
) STRICT;

CREATE TABLE payments (
    tenant_id   TEXT NOT NULL,
    id          TEXT NOT NULL,
    invoice_id  TEXT NOT NULL,
    amount      TEXT NOT NULL,
    method      TEXT NOT NULL DEFAULT '',
    reference   TEXT NOT NULL DEFAULT '',
    actor_id    TEXT NOT NULL DEFAULT '',
    received_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, invoice_id) REFERENCES invoices (tenant_id, id)
) STRICT;
CREATE INDEX payments_invoice ON payments (tenant_id, invoice_id, received_at);

-- The delivery of an invoice to its customer, per channel (email).
CREATE TABLE invoice_deliveries (
    tenant_id  TEXT NOT NULL,
    invoice_id TEXT NOT NULL,
    channel    TEXT NOT NULL,
    recipient  TEXT NOT NULL DEFAULT '',
    status     TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed', 'skipped')),
    attempts   INTEGER NOT NULL DEFAULT 0,
    error      TEXT NOT NULL DEFAULT '',
    message_id TEXT NOT NULL DEFAULT '',
    sent_at    TEXT,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, invoice_id, channel),
    FOREIGN KEY (tenant_id, invoice_id) REFERENCES invoices (tenant_id, id)
) STRICT;

CREATE TABLE vendors (
    tenant_id  TEXT NOT NULL,
    id         TEXT NOT NULL,
    name       TEXT NOT NULL,
    email      TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, name)
) STRICT;

CREATE TABLE purchase_orders (
    tenant_id    TEXT NOT NULL,
    id           TEXT NOT NULL,
    number       TEXT NOT NULL,
    vendor_id    TEXT NOT NULL,
    status       TEXT NOT NULL DEFAULT 'pending'
                 CHECK (status IN ('pending', 'approved', 'partially_received', 'received')),
    total        TEXT NOT NULL,
    requested_by TEXT NOT NULL DEFAULT '',
    approved_by  TEXT NOT NULL DEFAULT '',
    approved_at  TEXT,
    received_at  TEXT,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, number),
    FOREIGN KEY (tenant_id, vendor_id) REFERENCES vendors (tenant_id, id)
) STRICT;

CREATE TABLE purchase_order_lines (
    tenant_id         TEXT NOT NULL,
    purchase_order_id TEXT NOT NULL,
    line_no           INTEGER NOT NULL,
    product_id        TEXT NOT NULL,
    quantity          INTEGER NOT NULL CHECK (quantity > 0),
    unit_cost         TEXT NOT NULL,
    received_quantity INTEGER NOT NULL DEFAULT 0 CHECK (received_quantity >= 0 AND received_quantity <= quantity),
    PRIMARY KEY (tenant_id, purchase_order_id, line_no),
    FOREIGN KEY (tenant_id, purchase_order_id) REFERENCES purchase_orders (tenant_id, id),
    FOREIGN KEY (tenant_id, product_id) REFERENCES products (tenant_id, id)
) STRICT;

CREATE TABLE goods_receipts (
    tenant_id         TEXT NOT NULL,
    id                TEXT NOT NULL,
    purchase_order_id TEXT NOT NULL,
    location_id       TEXT NOT NULL,
    received_by       TEXT NOT NULL DEFAULT '',
    received_at       TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, purchase_order_id) REFERENCES purchase_orders (tenant_id, id),
    FOREIGN KEY (tenant_id, location_id) REFERENCES locations (tenant_id, id)
) STRICT;

CREATE TABLE goods_receipt_lines (
    tenant_id    TEXT NOT NULL,
    receipt_id   TEXT NOT NULL,
    line_no      INTEGER NOT NULL, -- position in the receipt
    -- The purchase order line received: one receipt may receive a line in
    -- several batches (lots with their own expiry dates).
    order_line_no INTEGER NOT NULL CHECK (order_line_no > 0),
    product_id   TEXT NOT NULL,
    quantity     INTEGER NOT NULL CHECK (quantity > 0),
    unit_cost    TEXT NOT NULL,
    batch_number TEXT NOT NULL DEFAULT '',
    expiry_date  TEXT,
    movement_id  TEXT NOT NULL,
    PRIMARY KEY (tenant_id, receipt_id, line_no),
    FOREIGN KEY (tenant_id, receipt_id) REFERENCES goods_receipts (tenant_id, id),
    FOREIGN KEY (tenant_id, movement_id) REFERENCES stock_movements (tenant_id, id)
) STRICT;

CREATE INDEX purchase_orders_vendor ON purchase_orders (tenant_id, vendor_id, id);
CREATE INDEX goods_receipts_order ON goods_receipts (tenant_id, purchase_order_id, id);

-- Stock that carries an expiry date, per batch: incremented by movements in
-- with an expiry date, consumed first-expiry-first-out by movements out.
CREATE TABLE stock_batches (
    tenant_id    TEXT NOT NULL,
    product_id   TEXT NOT NULL,
    location_id  TEXT NOT NULL,
    batch_number TEXT NOT NULL DEFAULT '',
    expiry_date  TEXT NOT NULL,
    quantity     INTEGER NOT NULL CHECK (quantity >= 0),
    updated_at   TEXT NOT NULL,
    PRIMARY KEY (tenant_id, product_id, location_id, batch_number, expiry_date),
    FOREIGN KEY (tenant_id, product_id) REFERENCES products (tenant_id, id),
    FOREIGN KEY (tenant_id, location_id) REFERENCES locations (tenant_id, id)
) STRICT;
CREATE INDEX stock_batches_expiry ON stock_batches (expiry_date) WHERE quantity > 0;

-- What the scheduled detectors have raised: one row per (subject,
-- threshold), inserted in the same transaction as the event, so each due
-- item is raised once per threshold however often or wherever they run.
CREATE TABLE detector_alerts (
    tenant_id TEXT NOT NULL,
    detector  TEXT NOT NULL,
    subject   TEXT NOT NULL,
    threshold INTEGER NOT NULL,
    raised_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, detector, subject, threshold)
) STRICT;

-- +goose Down
DROP TABLE detector_alerts;
DROP TABLE stock_batches;
DROP TABLE goods_receipt_lines;
DROP TABLE goods_receipts;
DROP TABLE purchase_order_lines;
DROP TABLE purchase_orders;
DROP TABLE vendors;
DROP TABLE invoice_deliveries;
DROP TABLE payments;
DROP TABLE invoice_lines;
DROP TABLE invoices;
DROP TABLE order_lines;
DROP TABLE orders;
DROP TABLE leads;
DROP TABLE customers;
DROP TABLE counters;
