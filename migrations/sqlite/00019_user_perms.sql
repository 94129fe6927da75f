-- Each user's permissions as rows keyed (tenant, permission, user), kept
-- equal to users.perms by triggers, so a tenant's holders of a permission
-- are one index range (see the PostgreSQL migration of the same number).
-- Only string elements of perms are permissions.

-- +goose Up
CREATE TABLE user_perms (
    tenant_id TEXT NOT NULL,
    perm      TEXT NOT NULL,
    user_id   TEXT NOT NULL,
    PRIMARY KEY (tenant_id, perm, user_id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;
CREATE INDEX user_perms_user ON user_perms (tenant_id, user_id);

INSERT OR IGNORE INTO user_perms (tenant_id, perm, user_id)
SELECT u.tenant_id, e.value, u.id FROM users u, json_each(u.perms) AS e WHERE e.type = 'text';

-- +goose StatementBegin
CREATE TRIGGER users_perms_insert AFTER INSERT ON users WHEN NEW.perms <> '[]'
BEGIN
    INSERT OR IGNORE INTO user_perms (tenant_id, perm, user_id)
    SELECT NEW.tenant_id, e.value, NEW.id FROM json_each(NEW.perms) AS e WHERE e.type = 'text';
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER users_perms_update AFTER UPDATE OF perms ON users WHEN OLD.perms IS NOT NEW.perms
BEGIN
    DELETE FROM user_perms WHERE tenant_id = OLD.tenant_id AND user_id = OLD.id;
    INSERT OR IGNORE INTO user_perms (tenant_id, perm, user_id)
    SELECT NEW.tenant_id, e.value, NEW.id FROM json_each(NEW.perms) AS e WHERE e.type = 'text';
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER users_perms_update;
DROP TRIGGER users_perms_insert;
DROP TABLE user_perms;
