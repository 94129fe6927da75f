-- Every notification is inserted unread, so the partial index on unread
-- rows took one index entry per row, like the inbox index it duplicates
-- (same key, (tenant_id, user_id, seq)): a third of a 1,000-row
-- broadcast's insert (EXPLAIN ANALYZE: 11-13 ms with it, 5-8 ms without).
-- Since 00009 the unread count is a counter on the user's row, so what
-- still reads unread rows (the unread list, mark-all-read) is one user's
-- inbox, which the inbox index finds; the filter on read_at then skips the
-- read rows in it.
--
-- The users row of each recipient is updated by every insert (its seq and
-- unread count, neither indexed): free room on its page lets PostgreSQL
-- update it in place (a HOT update) instead of adding a primary-key entry
-- for every new row version. It applies to pages written from now on.

-- +goose Up
DROP INDEX notifications_unread;
ALTER TABLE users SET (fillfactor = 70);

-- +goose Down
ALTER TABLE users RESET (fillfactor);
CREATE INDEX notifications_unread ON notifications (tenant_id, user_id, seq) WHERE read_at IS NULL;
