-- Relays in other processes are woken by a NOTIFY the writing process sends
-- after its commit (domain/store/postgres/announce.go), no longer by a
-- trigger inside the transaction: a transaction that issued NOTIFY holds
-- PostgreSQL's global notification lock from its commit until the commit
-- is durable, so every event-writing transaction of every process committed
-- one after another, each waiting for the previous one's fsync.

-- +goose Up
DROP TRIGGER events_notify ON events;
DROP FUNCTION notifyhub_notify_events();

-- +goose Down
-- +goose StatementBegin
CREATE FUNCTION notifyhub_notify_events() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('notifyhub_events', TG_TABLE_SCHEMA);
    RETURN NULL;
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER events_notify AFTER INSERT ON events
    FOR EACH STATEMENT EXECUTE FUNCTION notifyhub_notify_events();
