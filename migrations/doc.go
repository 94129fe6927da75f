// Package migrations embeds the SQL schema of each dialect (postgres/,
// sqlite/) and applies it with goose. It is used on start and by
// `notifyhub migrate`. Files are numbered; a migration once landed is never
// edited, only followed by a new one.
package migrations
