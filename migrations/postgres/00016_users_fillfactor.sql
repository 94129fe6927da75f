-- The users row of each recipient is updated by every notification insert
-- (its seq and unread count, neither indexed): free room on its page lets
-- PostgreSQL update it in place (a HOT update) instead of adding a
-- primary-key entry for every new row version. It applies to pages written
-- from now on.
--
-- The partial index on unread rows (notifications_unread) stays, although
-- it costs a third of a 1,000-row broadcast's insert (EXPLAIN ANALYZE:
-- 11-13 ms with it, 5-8 ms without): without it, the unread list and
-- mark-all-read walk a user's whole history, which grows without bound.

-- +goose Up
ALTER TABLE users SET (fillfactor = 70);

-- +goose Down
ALTER TABLE users RESET (fillfactor);
