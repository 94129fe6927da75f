package sqlstore

import "github.com/notifyhub/notifyhub/domain"

// On PostgreSQL a notification batch binds one array per column instead of
// one parameter per value: a 500-row INSERT of 6,000 parameters spent more
// time binding and encoding them (each one typed, converted and checked on
// its own) than inserting, and so did the 1,500-parameter VALUES list of
// the seq UPDATE. unnest turns the arrays back into rows server-side, and
// with no parameter limit left a batch of any size is one statement each.

// pgArrays reports whether the store binds batches as arrays.
func (s *Store) pgArrays() bool { return s.d.Name() == "postgres" }

// pgLockUsersQuery locks the tenant's users listed in one text[] parameter,
// in id order (see addNotificationSeqs).
const pgLockUsersQuery = `SELECT id FROM users WHERE tenant_id = ? AND id = ANY(CAST(? AS text[])) ORDER BY id FOR UPDATE`

// pgAddSeqsQuery is the seq UPDATE over (id, seqs, unread) arrays.
const pgAddSeqsQuery = `UPDATE users SET notification_seq = users.notification_seq + v.seqs,
	unread_count = users.unread_count + v.unread
	FROM unnest(CAST(? AS text[]), CAST(? AS bigint[]), CAST(? AS bigint[])) AS v(id, seqs, unread)
	WHERE users.tenant_id = ? AND users.id = v.id
	RETURNING users.id, users.notification_seq, users.unread_count`

// pgSeqArgs are the arguments of pgAddSeqsQuery for users.
func pgSeqArgs(tenant domain.TenantID, users []domain.UserID, counts map[domain.UserID]seqCounts) []any {
	ids := make([]string, len(users))
	seqs := make([]int64, len(users))
	unread := make([]int64, len(users))
	for i, u := range users {
		ids[i], seqs[i], unread[i] = string(u), counts[u].seqs, counts[u].unread
	}
	return []any{ids, seqs, unread, tenant}
}

// pgInsertNotificationsQuery inserts the rows held column by column in
// twelve arrays, in notificationCols order (times as text, like encTime).
const pgInsertNotificationsQuery = `INSERT INTO notifications (` + notificationCols + `)
	SELECT id, tenant_id, user_id, seq, type, severity, title, body, action_url, CAST(data AS json),
		CAST(read_at AS timestamptz), CAST(created_at AS timestamptz)
	FROM unnest(CAST(? AS uuid[]), CAST(? AS text[]), CAST(? AS text[]), CAST(? AS bigint[]), CAST(? AS text[]),
		CAST(? AS text[]), CAST(? AS text[]), CAST(? AS text[]), CAST(? AS text[]), CAST(? AS text[]),
		CAST(? AS text[]), CAST(? AS text[]))
	AS r(id, tenant_id, user_id, seq, type, severity, title, body, action_url, data, read_at, created_at)`

// pgSharedNotificationsQuery inserts a broadcast's rows: the values every
// row shares (tenant, type, severity, title, body, action_url, data,
// read_at, created_at) bound once, and arrays of only id, user_id and seq.
// PostgreSQL then parses the text, json and times once, not per row, and
// the client encodes three arrays instead of twelve.
const pgSharedNotificationsQuery = `INSERT INTO notifications (` + notificationCols + `)
	SELECT r.id, CAST(? AS text), r.user_id, r.seq, CAST(? AS text), CAST(? AS text), CAST(? AS text), CAST(? AS text),
		CAST(? AS text), CAST(CAST(? AS text) AS json), CAST(CAST(? AS text) AS timestamptz), CAST(CAST(? AS text) AS timestamptz)
	FROM unnest(CAST(? AS uuid[]), CAST(? AS text[]), CAST(? AS bigint[])) AS r(id, user_id, seq)`

// Columns of a notification row (notificationCols order) that differ
// between the recipients of one broadcast.
const (
	colID   = 0
	colUser = 2
	colSeq  = 3
)

// pgInsertNotifications is the statement and arguments inserting rows
// (notificationColCount values each, as prepareNotification builds them,
// seqs set): pgSharedNotificationsQuery when the rows differ only in id,
// user and seq, as a broadcast's do, else pgInsertNotificationsQuery.
func pgInsertNotifications(rows []any) (string, []any) {
	n := len(rows) / notificationColCount
	if n > 1 && sharedColumns(rows) {
		ids, users, seqs := make([]string, n), make([]string, n), make([]int64, n)
		for i := range n {
			row := rows[i*notificationColCount : (i+1)*notificationColCount]
			ids[i], users[i], seqs[i] = row[colID].(string), row[colUser].(string), row[colSeq].(int64)
		}
		first := rows[:notificationColCount]
		args := make([]any, 0, notificationColCount)
		args = append(args, first[1])
		args = append(args, first[4:notificationColCount]...)
		return pgSharedNotificationsQuery, append(args, ids, users, seqs)
	}
	return pgInsertNotificationsQuery, pgNotificationArgs(rows)
}

// sharedColumns reports whether every row holds the first row's values
// outside id, user and seq. The rows of one broadcast share their strings,
// so the comparisons are cheap.
func sharedColumns(rows []any) bool {
	first := rows[:notificationColCount]
	for at := notificationColCount; at < len(rows); at += notificationColCount {
		row := rows[at : at+notificationColCount]
		for c := range notificationColCount {
			if c == colID || c == colUser || c == colSeq {
				continue
			}
			if row[c] != first[c] { // strings, or nil (read_at)
				return false
			}
		}
	}
	return true
}

// pgNotificationArgs turns rows (notificationColCount values each, as
// prepareNotification builds them) into the arrays of
// pgInsertNotificationsQuery.
func pgNotificationArgs(rows []any) []any {
	n := len(rows) / notificationColCount
	cols := make([]any, notificationColCount)
	for c := range notificationColCount {
		switch c {
		case 3:
			seqs := make([]int64, n)
			for i := range n {
				seqs[i] = rows[i*notificationColCount+c].(int64)
			}
			cols[c] = seqs
		case 10:
			// read_at: NULL for unread.
			readAt := make([]*string, n)
			for i := range n {
				if v, ok := rows[i*notificationColCount+c].(string); ok {
					readAt[i] = &v
				}
			}
			cols[c] = readAt
		default:
			col := make([]string, n)
			for i := range n {
				col[i] = rows[i*notificationColCount+c].(string)
			}
			cols[c] = col
		}
	}
	return cols
}
