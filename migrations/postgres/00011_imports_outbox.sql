-- Two things a large import needs.
--
-- import_keys without its foreign key to import_logs: the key checked
-- every row a batch claimed (2,000 lookups of the same import row, a third
-- of the claim's time). ClaimImportKeys looks the import up once instead;
-- import_logs rows are never deleted.
--
-- events_unpublished_jobs: the relay claims dispatched jobs before other
-- events (ClaimUnpublished), so a job never waits behind a backlog of
-- domain events, such as the million ProductCreated of an import (whose
-- own continuation is a job). The type is the literal the claim uses.

-- +goose Up
ALTER TABLE import_keys DROP CONSTRAINT import_keys_tenant_id_import_id_fkey;
CREATE INDEX events_unpublished_jobs ON events (pos) WHERE published_at IS NULL AND type = 'notifyhub.job';

-- +goose Down
DROP INDEX events_unpublished_jobs;
ALTER TABLE import_keys ADD FOREIGN KEY (tenant_id, import_id) REFERENCES import_logs (tenant_id, id);
