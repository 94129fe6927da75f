-- The rest of the ERP: CRM (customers, leads), sales orders, invoices and
-- payments, procurement (vendors, purchase orders, goods receipts), stock
-- batches with expiry, and the once-per-threshold record of the scheduled
-- detectors. As in the core schema, rows refer to each other through
-- (tenant_id, id), so no row can point at another tenant's row. Money is
-- numeric(20,4), never float.

-- +goose Up
-- Per-tenant document numbers (SO-000001, INV-000001, PO-000001): the row
-- lock taken by the increment makes numbers unique and gap-free per commit.
CREATE TABLE counters (
    tenant_id text NOT NULL,
    name      text NOT NULL,
    value     bigint NOT NULL,
    PRIMARY KEY (tenant_id, name)
);

CREATE TABLE customers (
    tenant_id           text NOT NULL,
    id                  uuid NOT NULL,
    name                text NOT NULL,
    email               text NOT NULL DEFAULT '', -- stored lower-cased
    lead_id             uuid,
    payment_terms_days  integer NOT NULL DEFAULT 30 CHECK (payment_terms_days BETWEEN 0 AND 365),
    -- Statistics: recomputed from orders, invoices and payments, never incremented.
    total_orders        bigint NOT NULL DEFAULT 0,
    total_spent         numeric(20, 4) NOT NULL DEFAULT 0,
    outstanding_balance numeric(20, 4) NOT NULL DEFAULT 0,
    last_order_at       timestamptz,
    last_payment_at     timestamptz,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX customers_email ON customers (tenant_id, email) WHERE email <> '';

CREATE TABLE leads (
    tenant_id    text NOT NULL,
    id           uuid NOT NULL,
    name         text NOT NULL,
    email        text NOT NULL DEFAULT '',
    status       text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'converted')),
    customer_id  uuid,
    converted_at timestamptz,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, customer_id) REFERENCES customers (tenant_id, id)
);

CREATE TABLE orders (
    tenant_id    text NOT NULL,
    id           uuid NOT NULL,
    number       text NOT NULL,
    customer_id  uuid NOT NULL,
    status       text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'fulfilled')),
    total        numeric(20, 4) NOT NULL,
    created_by   text NOT NULL DEFAULT '',
    approved_by  text NOT NULL DEFAULT '',
    approved_at  timestamptz,
    fulfilled_by text NOT NULL DEFAULT '',
    fulfilled_at timestamptz,
    -- Set by UpdateInventoryOnSale once the order's stock went out; until
    -- then a fulfilled order reserves it, so fulfilments never oversell.
    stock_out_at timestamptz,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, number),
    FOREIGN KEY (tenant_id, customer_id) REFERENCES customers (tenant_id, id)
);
CREATE INDEX orders_customer ON orders (tenant_id, customer_id, created_at);
CREATE INDEX orders_awaiting_stock_out ON orders (tenant_id) WHERE status = 'fulfilled' AND stock_out_at IS NULL;

CREATE TABLE order_lines (
    tenant_id  text NOT NULL,
    order_id   uuid NOT NULL,
    line_no    integer NOT NULL,
    product_id uuid NOT NULL,
    sku        text NOT NULL,
    quantity   bigint NOT NULL CHECK (quantity > 0),
    unit_price numeric(20, 4) NOT NULL CHECK (unit_price >= 0),
    amount     numeric(20, 4) NOT NULL,
    PRIMARY KEY (tenant_id, order_id, line_no),
    FOREIGN KEY (tenant_id, order_id) REFERENCES orders (tenant_id, id),
    FOREIGN KEY (tenant_id, product_id) REFERENCES products (tenant_id, id)
);

CREATE TABLE invoices (
    tenant_id   text NOT NULL,
    id          uuid NOT NULL,
    number      text NOT NULL,
    order_id    uuid NOT NULL,
    customer_id uuid NOT NULL,
    status      text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'paid', 'overdue')),
    total       numeric(20, 4) NOT NULL CHECK (total >= 0),
    amount_paid numeric(20, 4) NOT NULL DEFAULT 0 CHECK (amount_paid >= 0 AND amount_paid <= total),
    due_date    date NOT NULL,
    paid_at     timestamptz,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, number),
    -- One invoice per order: the natural key that makes generation idempotent.
    UNIQUE (tenant_id, order_id),
    FOREIGN KEY (tenant_id, order_id) REFERENCES orders (tenant_id, id),
    FOREIGN KEY (tenant_id, customer_id) REFERENCES customers (tenant_id, id)
);
CREATE INDEX invoices_customer ON invoices (tenant_id, customer_id);
CREATE INDEX invoices_due ON invoices (due_date) WHERE status <> 'paid';

CREATE TABLE invoice_lines (
    tenant_id   text NOT NULL,
    invoice_id  uuid NOT NULL,
    line_no     integer NOT NULL,
    product_id  uuid NOT NULL,
    description text NOT NULL DEFAULT '',
    quantity    bigint NOT NULL CHECK (quantity > 0),
    unit_price  numeric(20, 4) NOT NULL,
    amount      numeric(20, 4) NOT NULL,
    PRIMARY KEY (tenant_id, invoice_id, line_no),
    FOREIGN KEY (tenant_id, invoice_id) REFERENCES invoices (tenant_id, id),
    FOREIGN KEY (tenant_id, product_id) REFERENCES products (tenant_id, id)
);

CREATE TABLE payments (
    tenant_id   text NOT NULL,
    id          uuid NOT NULL,
    invoice_id  uuid NOT NULL,
    amount      numeric(20, 4) NOT NULL CHECK (amount > 0),
    method      text NOT NULL DEFAULT '',
    reference   text NOT NULL DEFAULT '',
    actor_id    text NOT NULL DEFAULT '',
    received_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, invoice_id) REFERENCES invoices (tenant_id, id)
);
CREATE INDEX payments_invoice ON payments (tenant_id, invoice_id, received_at);

-- The delivery of an invoice to its customer, per channel (email).
CREATE TABLE invoice_deliveries (
    tenant_id  text NOT NULL,
    invoice_id uuid NOT NULL,
    channel    text NOT NULL,
    recipient  text NOT NULL DEFAULT '',
    status     text NOT NULL CHECK (status IN ('pending', 'sent', 'failed', 'skipped')),
    attempts   integer NOT NULL DEFAULT 0,
    error      text NOT NULL DEFAULT '',
    message_id text NOT NULL DEFAULT '',
    sent_at    timestamptz,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, invoice_id, channel),
    FOREIGN KEY (tenant_id, invoice_id) REFERENCES invoices (tenant_id, id)
);

CREATE TABLE vendors (
    tenant_id  text NOT NULL,
    id         uuid NOT NULL,
    name       text NOT NULL,
    email      text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, name)
);

CREATE TABLE purchase_orders (
    tenant_id    text NOT NULL,
    id           uuid NOT NULL,
    number       text NOT NULL,
    vendor_id    uuid NOT NULL,
    status       text NOT NULL DEFAULT 'pending'
                 CHECK (status IN ('pending', 'approved', 'partially_received', 'received')),
    total        numeric(20, 4) NOT NULL,
    requested_by text NOT NULL DEFAULT '',
    approved_by  text NOT NULL DEFAULT '',
    approved_at  timestamptz,
    received_at  timestamptz,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, number),
    FOREIGN KEY (tenant_id, vendor_id) REFERENCES vendors (tenant_id, id)
);

CREATE TABLE purchase_order_lines (
    tenant_id         text NOT NULL,
    purchase_order_id uuid NOT NULL,
    line_no           integer NOT NULL,
    product_id        uuid NOT NULL,
    quantity          bigint NOT NULL CHECK (quantity > 0),
    unit_cost         numeric(20, 4) NOT NULL CHECK (unit_cost >= 0),
    received_quantity bigint NOT NULL DEFAULT 0 CHECK (received_quantity >= 0 AND received_quantity <= quantity),
    PRIMARY KEY (tenant_id, purchase_order_id, line_no),
    FOREIGN KEY (tenant_id, purchase_order_id) REFERENCES purchase_orders (tenant_id, id),
    FOREIGN KEY (tenant_id, product_id) REFERENCES products (tenant_id, id)
);

CREATE TABLE goods_receipts (
    tenant_id         text NOT NULL,
    id                uuid NOT NULL,
    purchase_order_id uuid NOT NULL,
    location_id       uuid NOT NULL,
    received_by       text NOT NULL DEFAULT '',
    received_at       timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, purchase_order_id) REFERENCES purchase_orders (tenant_id, id),
    FOREIGN KEY (tenant_id, location_id) REFERENCES locations (tenant_id, id)
);

CREATE TABLE goods_receipt_lines (
    tenant_id    text NOT NULL,
    receipt_id   uuid NOT NULL,
    line_no      integer NOT NULL, -- position in the receipt
    -- The purchase order line received: one receipt may receive a line in
    -- several batches (lots with their own expiry dates).
    order_line_no integer NOT NULL CHECK (order_line_no > 0),
    product_id   uuid NOT NULL,
    quantity     bigint NOT NULL CHECK (quantity > 0),
    unit_cost    numeric(20, 4) NOT NULL,
    batch_number text NOT NULL DEFAULT '',
    expiry_date  date,
    movement_id  uuid NOT NULL,
    PRIMARY KEY (tenant_id, receipt_id, line_no),
    FOREIGN KEY (tenant_id, receipt_id) REFERENCES goods_receipts (tenant_id, id),
    FOREIGN KEY (tenant_id, movement_id) REFERENCES stock_movements (tenant_id, id)
);

CREATE INDEX purchase_orders_vendor ON purchase_orders (tenant_id, vendor_id, id);
CREATE INDEX goods_receipts_order ON goods_receipts (tenant_id, purchase_order_id, id);

-- Stock that carries an expiry date, per batch: incremented by movements in
-- with an expiry date, consumed first-expiry-first-out by movements out.
CREATE TABLE stock_batches (
    tenant_id    text NOT NULL,
    product_id   uuid NOT NULL,
    location_id  uuid NOT NULL,
    batch_number text NOT NULL DEFAULT '',
    expiry_date  date NOT NULL,
    quantity     bigint NOT NULL CHECK (quantity >= 0),
    updated_at   timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, product_id, location_id, batch_number, expiry_date),
    FOREIGN KEY (tenant_id, product_id) REFERENCES products (tenant_id, id),
    FOREIGN KEY (tenant_id, location_id) REFERENCES locations (tenant_id, id)
);
CREATE INDEX stock_batches_expiry ON stock_batches (expiry_date) WHERE quantity > 0;

-- What the scheduled detectors have raised: one row per (subject,
-- threshold), inserted in the same transaction as the event, so each due
-- item is raised once per threshold however often or wherever they run.
CREATE TABLE detector_alerts (
    tenant_id text NOT NULL,
    detector  text NOT NULL,
    subject   text NOT NULL,
    threshold integer NOT NULL,
    raised_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, detector, subject, threshold)
);

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
