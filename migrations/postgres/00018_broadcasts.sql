-- A tenant broadcast is stored once, not once per user: 1,000 inserted
-- rows and 1,000 updated users rows per announcement bounded broadcast
-- deliveries by what PostgreSQL could write.
--
-- Each user's inbox keeps one contiguous sequence (the hub's gap detection
-- and the catch-up rely on it): a user's position counts their personal
-- notifications (users.notification_seq) plus the tenant's broadcasts since
-- the user was created (tenants.broadcast_seq - users.broadcast_base). A
-- broadcast advances the tenant's counter under the tenant row's exclusive
-- lock; a personal insert reads it under a share lock and records it
-- (notifications.bseq), so the two kinds commit in one order per tenant.
-- notifications.seq is still the row's position in its user's inbox.
--
-- broadcast_reads holds the broadcasts a user has read; users.unread_count
-- is the personal unread count minus those, so a user's unread count is
-- unread_count + broadcast_seq - broadcast_base without touching any row
-- per broadcast.

-- +goose Up
ALTER TABLE tenants ADD COLUMN broadcast_seq bigint NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN broadcast_base bigint NOT NULL DEFAULT 0;
ALTER TABLE notifications ADD COLUMN bseq bigint NOT NULL DEFAULT 0;

CREATE TABLE broadcasts (
    id         uuid PRIMARY KEY,
    tenant_id  text NOT NULL REFERENCES tenants (id),
    bseq       bigint NOT NULL,
    type       text NOT NULL,
    severity   text NOT NULL,
    title      text NOT NULL,
    body       text NOT NULL DEFAULT '',
    action_url text NOT NULL DEFAULT '',
    data       json NOT NULL,
    created_at timestamptz NOT NULL,
    UNIQUE (tenant_id, bseq)
);

CREATE TABLE broadcast_reads (
    tenant_id text NOT NULL,
    user_id   text NOT NULL,
    bseq      bigint NOT NULL,
    read_at   timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, user_id, bseq)
);

-- +goose Down
DROP TABLE broadcast_reads;
DROP TABLE broadcasts;
ALTER TABLE notifications DROP COLUMN bseq;
ALTER TABLE users DROP COLUMN broadcast_base;
ALTER TABLE tenants DROP COLUMN broadcast_seq;
