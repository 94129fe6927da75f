-- Alert listeners and permission sends look up a tenant's holders of one
-- permission for every batch they notify. 00017's GIN index on users.perms
-- was meant to answer that, but PostgreSQL's planner does not choose it
-- for a tenant of a thousand users: it reads every user of the tenant and
-- builds and tests two JSON arrays per row (1.4 ms for 1,000 users under
-- load, half of PostgreSQL's CPU per low-stock alert at 500 a second).
--
-- user_perms holds each user's permissions as rows keyed (tenant,
-- permission, user), so the holders are one short index range whatever
-- the tenant's size. Triggers keep it equal to users.perms on every write
-- path; users.perms stays the source of truth, and only its string
-- elements are permissions (as the containment test matched before).

-- +goose Up
CREATE TABLE user_perms (
    tenant_id text NOT NULL,
    perm      text NOT NULL,
    user_id   text NOT NULL,
    PRIMARY KEY (tenant_id, perm, user_id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX user_perms_user ON user_perms (tenant_id, user_id);

INSERT INTO user_perms (tenant_id, perm, user_id)
SELECT DISTINCT u.tenant_id, e.perm, u.id
FROM users u, jsonb_array_elements(u.perms) AS a(v), LATERAL (SELECT a.v #>> '{}' AS perm) e
WHERE jsonb_typeof(a.v) = 'string';

-- +goose StatementBegin
CREATE FUNCTION notifyhub_sync_user_perms() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        DELETE FROM user_perms WHERE tenant_id = OLD.tenant_id AND user_id = OLD.id;
    END IF;
    INSERT INTO user_perms (tenant_id, perm, user_id)
    SELECT NEW.tenant_id, a.v #>> '{}', NEW.id
    FROM jsonb_array_elements(NEW.perms) AS a(v)
    WHERE jsonb_typeof(a.v) = 'string'
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

-- Most users hold no permission: their inserts skip the trigger. The seq
-- and unread updates of users rows do not name perms, so they never fire it.
CREATE TRIGGER users_perms_insert AFTER INSERT ON users
    FOR EACH ROW WHEN (NEW.perms <> '[]'::jsonb) EXECUTE FUNCTION notifyhub_sync_user_perms();
CREATE TRIGGER users_perms_update AFTER UPDATE OF perms ON users
    FOR EACH ROW WHEN (OLD.perms IS DISTINCT FROM NEW.perms) EXECUTE FUNCTION notifyhub_sync_user_perms();

DROP INDEX users_perms;

-- +goose Down
CREATE INDEX users_perms ON users USING gin (perms);
DROP TRIGGER users_perms_update ON users;
DROP TRIGGER users_perms_insert ON users;
DROP FUNCTION notifyhub_sync_user_perms();
DROP TABLE user_perms;
