-- Each user's number of unread notifications, kept next to
-- notification_seq: the statement that hands out seqs adds to it, and
-- every change of read state adjusts it in the same transaction, so an
-- unread count is one row read instead of a count over the inbox (which
-- grew with every notification a broadcast left unread).

-- +goose Up
ALTER TABLE users ADD COLUMN unread_count INTEGER NOT NULL DEFAULT 0;
UPDATE users SET unread_count = (SELECT COUNT(*) FROM notifications n
    WHERE n.tenant_id = users.tenant_id AND n.user_id = users.id AND n.read_at IS NULL);

-- +goose Down
ALTER TABLE users DROP COLUMN unread_count;
