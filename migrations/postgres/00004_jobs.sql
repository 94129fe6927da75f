-- Background jobs: bulk notification sends (POST /api/v1/notifications),
-- and the indexes failed-job management and pruning need.

-- +goose Up
-- One bulk send. The job works through the recipients in user-id order,
-- a batch per transaction, and records how far it got (resume_after) in the
-- same transaction as that batch's notifications: a redelivered or retried
-- job resumes there and never notifies anyone twice.
CREATE TABLE bulk_notifications (
    tenant_id    text NOT NULL,
    id           uuid NOT NULL,
    requested_by text NOT NULL DEFAULT '',
    -- {"user_ids": [...]} (sorted, without duplicates) | {"permission": "..."} | {"all": true}
    audience     json NOT NULL,
    type         text NOT NULL,
    severity     text NOT NULL,
    title        text NOT NULL,
    body         text NOT NULL DEFAULT '',
    action_url   text NOT NULL DEFAULT '',
    data         json NOT NULL,
    status       text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'processing', 'completed', 'failed')),
    total        bigint NOT NULL DEFAULT 0,
    sent         bigint NOT NULL DEFAULT 0,
    failed       bigint NOT NULL DEFAULT 0,
    -- [{"user_id", "message"}], the first 100 failed recipients
    errors       json NOT NULL DEFAULT '[]',
    resume_after text NOT NULL DEFAULT '',
    last_error   text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL,
    started_at   timestamptz,
    completed_at timestamptz,
    PRIMARY KEY (tenant_id, id)
);

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
