-- Database-backed event stream (workers/stream/dbqueue), used in embedded
-- mode. Independent of the core schema. Times are unix microseconds taken
-- from the database clock, so idle checks never mix clocks.

-- +goose Up
-- One row per topic: the last entry id handed out. Publishers lock this row
-- until commit, so a topic's ids become visible strictly in order and a
-- reader advancing past an id can never skip a later-committing smaller one.
CREATE TABLE stream_topics (
    topic   TEXT    NOT NULL PRIMARY KEY,
    last_id INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE stream_entries (
    topic      TEXT    NOT NULL,
    id         INTEGER NOT NULL,
    body       BLOB    NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (topic, id)
);

-- A consumer group: last_id is the highest entry handed to any consumer.
CREATE TABLE stream_groups (
    topic   TEXT    NOT NULL,
    grp     TEXT    NOT NULL,
    last_id INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (topic, grp)
);

-- Entries handed out and not yet acknowledged.
CREATE TABLE stream_pending (
    topic        TEXT    NOT NULL,
    grp          TEXT    NOT NULL,
    entry_id     INTEGER NOT NULL,
    consumer     TEXT    NOT NULL,
    delivered_at INTEGER NOT NULL,
    deliveries   INTEGER NOT NULL,
    PRIMARY KEY (topic, grp, entry_id)
);
CREATE INDEX stream_pending_idle ON stream_pending (topic, grp, delivered_at);
CREATE INDEX stream_pending_entry ON stream_pending (topic, entry_id);

-- +goose Down
DROP TABLE stream_pending;
DROP TABLE stream_groups;
DROP TABLE stream_entries;
DROP TABLE stream_topics;
