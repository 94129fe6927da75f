-- Every notification is inserted unread, so the partial index on unread
-- rows took one index entry per row, like the inbox index it duplicates
-- (same key, (tenant_id, user_id, seq)). Since 00009 the unread count is a
-- counter on the user's row, so what still reads unread rows (the unread
-- list, mark-all-read) is one user's inbox, which the inbox index finds.

-- +goose Up
DROP INDEX notifications_unread;

-- +goose Down
CREATE INDEX notifications_unread ON notifications (tenant_id, user_id, seq) WHERE read_at IS NULL;
