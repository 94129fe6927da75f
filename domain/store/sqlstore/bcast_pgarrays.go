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

// pgSharedNotificationsQuery inserts rows that share their values but id,
// user_id and seq with many others, as the recipients of a broadcast do
// (a group commit may hold several broadcasts): each distinct set of the
// shared values (type, severity, title, body, action_url, data, read_at,
// created_at) is bound once, in eight arrays, and materialised once, so
// PostgreSQL parses the json and times once per set, not per row; each row
// is its id, user, seq and set number. The client encodes four long arrays
// instead of twelve.
const pgSharedNotificationsQuery = `WITH t AS MATERIALIZED (
		SELECT k, type, severity, title, body, action_url, CAST(data AS json) AS data,
			CAST(read_at AS timestamptz) AS read_at, CAST(created_at AS timestamptz) AS created_at
		FROM unnest(CAST(? AS text[]), CAST(? AS text[]), CAST(? AS text[]), CAST(? AS text[]), CAST(? AS text[]),
			CAST(? AS text[]), CAST(? AS text[]), CAST(? AS text[]))
			WITH ORDINALITY AS s(type, severity, title, body, action_url, data, read_at, created_at, k))
	INSERT INTO notifications (` + notificationCols + `)
	SELECT r.id, CAST(? AS text), r.user_id, r.seq, t.type, t.severity, t.title, t.body, t.action_url, t.data,
		t.read_at, t.created_at
	FROM unnest(CAST(? AS uuid[]), CAST(? AS text[]), CAST(? AS bigint[]), CAST(? AS bigint[])) AS r(id, user_id, seq, k)
	JOIN t ON t.k = r.k`

// Columns of a notification row (notificationCols order): those that
// differ between the recipients of one broadcast, and the first of those
// they share.
const (
	colID     = 0
	colTenant = 1
	colUser   = 2
	colSeq    = 3
	colShared = 4 // type, then severity ... created_at
)

// sharedSet is the values of a row outside id, tenant, user and seq.
type sharedSet [notificationColCount - colShared]any

// pgInsertNotifications is the statement and arguments inserting rows
// (notificationColCount values each, as prepareNotification builds them,
// seqs set, one tenant): pgSharedNotificationsQuery when the rows hold at
// most half as many sets of shared values as rows, else
// pgInsertNotificationsQuery.
func pgInsertNotifications(rows []any) (string, []any) {
	n := len(rows) / notificationColCount
	if n < 2 {
		return pgInsertNotificationsQuery, pgNotificationArgs(rows)
	}
	var sets []sharedSet
	index := map[sharedSet]int64{}
	ids, users, seqs, ks := make([]string, n), make([]string, n), make([]int64, n), make([]int64, n)
	for i := range n {
		row := rows[i*notificationColCount : (i+1)*notificationColCount]
		set := sharedSet(row[colShared:])
		k := int64(len(sets))
		// A broadcast's rows come one after the other: most rows share
		// the set of the row before them (strings compare by pointer first).
		if k > 0 && set == sets[k-1] {
			k--
		} else if at, ok := index[set]; ok {
			k = at
		} else {
			if 2*(len(sets)+1) > n {
				return pgInsertNotificationsQuery, pgNotificationArgs(rows)
			}
			index[set] = k
			sets = append(sets, set)
		}
		ids[i], users[i], seqs[i], ks[i] = row[colID].(string), row[colUser].(string), row[colSeq].(int64), k+1
	}
	args := make([]any, 0, notificationColCount+4)
	for c := range len(sharedSet{}) {
		if c+colShared == 10 { // read_at: NULL for unread
			col := make([]*string, len(sets))
			for k := range sets {
				if v, ok := sets[k][c].(string); ok {
					col[k] = &v
				}
			}
			args = append(args, col)
			continue
		}
		col := make([]string, len(sets))
		for k := range sets {
			col[k] = sets[k][c].(string)
		}
		args = append(args, col)
	}
	return pgSharedNotificationsQuery, append(args, rows[colTenant], ids, users, seqs, ks)
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
