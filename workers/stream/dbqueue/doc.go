// Package dbqueue implements stream.Stream on tables of the application
// database (database/sql): SQLite in embedded mode, PostgreSQL when no Redis
// is configured. Entries, consumer groups and pending deliveries are rows
// (stream_topics, stream_entries, stream_groups, stream_pending, created by
// migrations 00002_stream_queue.sql); a read moves entries to the pending
// table and advances the group in one transaction.
//
// Readers in this process are woken at once by Publish; readers in other
// processes notice new entries by polling at Options.PollInterval.
//
// It owns those four tables and nothing else. It does not open or close the
// *sql.DB, apply migrations, or decode bodies.
package dbqueue
