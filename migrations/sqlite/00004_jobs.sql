-- Background jobs: bulk notification sends (POST /api/v1/notifications),
-- and the indexes failed-job management and pruning need.

-- +goose Up
-- One bulk send. The job works through the recipients in user-id order,
-- a batch per transaction, and records how far it got (resume_after) in the
-- same transaction as that batch's notifications: a redelivered or retried
-- job resumes there and never notifies anyone twice.
CREATE TABLE bulk_notifications (
    tenant_id    TEXT NOT NULL,
    id           TEXT NOT NULL,
    requested_by TEXT NOT NULL DEFAULT '',
    -- {"user_ids": [...]} (sorted, without duplicates) | {"permission": "..."} | {"all": true}
    audience     TEXT NOT NULL CHECK (json_valid(audience)),
    type         TEXT NOT NULL,
    severity     TEXT NOT NULL,
    title        TEXT NOT NULL,
    body         TEXT NOT NULL DEFAULT '',
    action_url   TEXT NOT NULL DEFAULT '',
    data         TEXT NOT NULL CHECK (json_valid(data)),
    status       TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'processing', 'completed', 'failed')),
    total        INTEGER NOT NULL DEFAULT 0,
    sent         INTEGER NOT NULL DEFAULT 0,
    failed       INTEGER NOT NULL DEFAULT 0,
    -- [{"user_id", "message"}], the first 100 failed recipients
    errors       TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(errors)),
    resume_after TEXT NOT NULL DEFAULT '',
    last_error   TEXT NOT NULL DEFAULT '',
    created_at   TEXT NOT NULL,
    started_at   TEXT,
    completed_at TEXT,
    PRIMARY KEY (tenant_id, id)
) STRICT;

-- A tenant's failed jobs, newest first (GET /api/v1/failed-jobs).
CREATE INDEX failed_jobs_tenant ON failed_jobs (tenant_id, failed_at, id);
-- notifyhub queue prune.
CREATE INDEX processed_events_at ON processed_events (processed_at);
CREATE INDEX events_published_at ON events (published_at) WHERE published_at IS NOT NULL;

-- +goose Down
DROP INDEX events_published_at;
DROP INDEX processed_events_at;
DROP INDEX failed_jobs_tenant;
DROP TABLE bulk_notifications;
