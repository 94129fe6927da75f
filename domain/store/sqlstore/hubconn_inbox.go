package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/notifyhub/notifyhub/domain"
)

// maxUsersPerInboxHeads bounds one statement's parameters.
const maxUsersPerInboxHeads = 500

// InboxHeads reads what the catch-up of a socket opened without a cursor
// needs, for several users in one round trip: the latest notification seq
// (0 when none) and the unread count of user users[i] of tenant
// tenants[i], at index i (a user may be given twice). It replaces a MaxSeq
// and an UnreadCount per user. Both figures live on the user's row and
// their tenant's (notification_seq is advanced by every personal insert,
// unread_count adjusted by every change of read state, the tenant's
// broadcast counter by every broadcast, in their transactions), so this
// reads one row per user, from one snapshot; an unknown user reads 0 and 0.
func (s *Store) InboxHeads(ctx context.Context, tenants []domain.TenantID, users []domain.UserID) (maxSeqs []int64, unread []int, err error) {
	if len(tenants) != len(users) {
		return nil, nil, fmt.Errorf("inbox heads: %d tenants for %d users", len(tenants), len(users))
	}
	maxSeqs, unread = make([]int64, len(users)), make([]int, len(users))
	for start := 0; start < len(users); start += maxUsersPerInboxHeads {
		end := min(start+maxUsersPerInboxHeads, len(users))
		if err := s.inboxHeads(ctx, tenants[start:end], users[start:end], maxSeqs[start:], unread[start:]); err != nil {
			return nil, nil, err
		}
	}
	return maxSeqs, unread, nil
}

func (s *Store) inboxHeads(ctx context.Context, tenants []domain.TenantID, users []domain.UserID, maxSeqs []int64, unread []int) error {
	if err := s.inboxHeadsAfter(ctx, nil, tenants, users, maxSeqs, unread); err != nil {
		return s.wrap("inbox heads", err)
	}
	return nil
}

// inboxHeadsAfter reads the heads in one statement that first upserts
// record (PostgreSQL only, when record is not empty): a user the upsert
// inserted or changed reads the row it returned, a user it left alone
// (or did not record) the row of the statement's snapshot. Either way
// both figures of a user come from one row version. Its errors are the
// driver's, unwrapped, for upsertWith to classify.
func (s *Store) inboxHeadsAfter(ctx context.Context, record []domain.User, tenants []domain.TenantID, users []domain.UserID, maxSeqs []int64, unread []int) error {
	if len(record) > 0 && !s.pgArrays() {
		return errors.New("inbox heads: recording users needs PostgreSQL (a writing WITH)")
	}
	q, args := s.inboxHeadsQuery(record, tenants, users)
	rows, err := s.query(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	// Rows come in no promised order: place each by its key (a key given
	// twice gets a row each).
	type key struct {
		tenant domain.TenantID
		user   domain.UserID
	}
	at := make(map[key][]int, len(users))
	for i, u := range users {
		k := key{tenants[i], u}
		at[k] = append(at[k], i)
	}
	seen := make([]bool, len(users))
	for rows.Next() {
		var (
			k     key
			seq   int64
			count int
		)
		if err := rows.Scan(&k.tenant, &k.user, &seq, &count); err != nil {
			return err
		}
		idx := at[k]
		if len(idx) == 0 {
			return fmt.Errorf("inbox heads: a row for %s/%s, not asked for", k.tenant, k.user)
		}
		i := idx[0]
		at[k] = idx[1:]
		maxSeqs[i], unread[i], seen[i] = seq, count, true
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if i := slices.Index(seen, false); i >= 0 {
		return fmt.Errorf("inbox heads: no row for %s/%s", tenants[i], users[i])
	}
	return nil
}

// inboxHeadsQuery is the statement of inboxHeadsAfter and its arguments.
// On PostgreSQL the users go in as arrays, so the statement's text is one
// of two whatever the number of users: each connection of the pool
// prepares it once, where lists of placeholders made a new statement to
// parse and plan for nearly every batch of sockets that connected
// together (86 texts for 10,000 sockets).
func (s *Store) inboxHeadsQuery(record []domain.User, tenants []domain.TenantID, users []domain.UserID) (string, []any) {
	if s.pgArrays() {
		var keys [2]pgArray
		for i, u := range users {
			keys[0].text(string(tenants[i]))
			keys[1].text(string(u))
		}
		if len(record) == 0 {
			return pgInboxHeadsQuery, arrayArgs(keys[:])
		}
		return pgRecordInboxHeadsQuery, append(pgUpsertUsersArgs(record), arrayArgs(keys[:])...)
	}
	// SQLite: no writing WITH, so never a record (RecordInboxHeads takes
	// two calls there); the keys as a VALUES list.
	var q strings.Builder
	args := make([]any, 0, 2*len(users))
	q.WriteString(`WITH u (tenant_id, user_id) AS (VALUES `)
	for i, u := range users {
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString("(?, ?)")
		args = append(args, tenants[i], u)
	}
	q.WriteString(`) SELECT u.tenant_id, u.user_id, ` + headSeq + `, ` + headUnread + headsFromUX)
	return q.String(), args
}

// RecordInboxHeads records the users of record (as UpsertUsers) and then
// reads the inbox heads of tenants and users (as InboxHeads): the first
// connect of a user needs both, and on PostgreSQL they are one statement,
// one round trip and one commit, instead of two in turn.
//
// Each user's figures are one row version's: the one the statement wrote
// when it inserted or changed the row, else the one its snapshot sees.
// Either is no older than the start of the call, which is all a catch-up
// needs (the socket was registered before it: anything committed later
// reaches it live). Too many users for one statement, or SQLite (no
// writing WITH), take the two calls in turn in one transaction, with the
// same results.
func (s *Store) RecordInboxHeads(ctx context.Context, record []domain.User, tenants []domain.TenantID, users []domain.UserID) (maxSeqs []int64, unread []int, err error) {
	if len(tenants) != len(users) {
		return nil, nil, fmt.Errorf("inbox heads: %d tenants for %d users", len(tenants), len(users))
	}
	rows, err := userRows(record)
	if err != nil {
		return nil, nil, err
	}
	if len(rows) == 0 {
		return s.InboxHeads(ctx, tenants, users)
	}
	if !s.pgArrays() || len(rows) > maxUsersPerUpsert || len(users) > maxUsersPerInboxHeads {
		// One transaction, so that no broadcast commits between the
		// two: the upsert holds SQLite's write lock, or PostgreSQL's
		// share lock on the tenant rows (which a broadcast needs
		// exclusively), until the heads are read. Otherwise a user
		// created here could read the broadcasts committed meanwhile
		// into its head, and drop their live copies as already sent.
		err := s.InTx(ctx, func(ctx context.Context) error {
			if err := s.UpsertUsers(ctx, record); err != nil {
				return err
			}
			var err error
			maxSeqs, unread, err = s.InboxHeads(ctx, tenants, users)
			return err
		})
		if err != nil {
			return nil, nil, err
		}
		return maxSeqs, unread, nil
	}
	maxSeqs, unread = make([]int64, len(users)), make([]int, len(users))
	err = s.upsertWith(ctx, rows, func(ctx context.Context) error {
		return s.inboxHeadsAfter(ctx, rows, tenants, users, maxSeqs, unread)
	})
	if err != nil {
		return nil, nil, err
	}
	return maxSeqs, unread, nil
}

// A user's figures with the broadcasts they got (see broadcast.go), from
// the statement's snapshot (x, t) or, in the recording form, from the row
// the upsert wrote (w) and the counter share-locked before it (tl).
const (
	headSeq     = `COALESCE(x.notification_seq + COALESCE(t.broadcast_seq, 0) - x.broadcast_base, 0)`
	headUnread  = `COALESCE(x.unread_count + COALESCE(t.broadcast_seq, 0) - x.broadcast_base, 0)`
	pgHeadsKeys = `u AS (SELECT * FROM unnest(CAST(? AS text[]), CAST(? AS text[])) AS u(tenant_id, user_id))`
	headsFromUX = ` FROM u LEFT JOIN users x ON x.tenant_id = u.tenant_id AND x.id = u.user_id
		LEFT JOIN tenants t ON t.id = u.tenant_id`
)

// pgInboxHeadsQuery is inboxHeadsAfter without users to record: the keys
// (tenants, users) as two text[].
const pgInboxHeadsQuery = `WITH ` + pgHeadsKeys + `
	SELECT u.tenant_id, u.user_id, ` + headSeq + `, ` + headUnread + headsFromUX

// pgRecordInboxHeadsQuery is inboxHeadsAfter recording users first (the
// upsert UpsertUsers runs, pgUpsertUsersCTE), then reading the keys as
// above.
const pgRecordInboxHeadsQuery = `WITH ` + pgUpsertUsersCTE + `, ` + pgHeadsKeys + `
	SELECT u.tenant_id, u.user_id,
		CASE WHEN w.id IS NULL THEN ` + headSeq + ` ELSE w.notification_seq + tl.broadcast_seq - w.broadcast_base END,
		CASE WHEN w.id IS NULL THEN ` + headUnread + ` ELSE w.unread_count + tl.broadcast_seq - w.broadcast_base END` +
	headsFromUX + `
		LEFT JOIN w ON w.tenant_id = u.tenant_id AND w.id = u.user_id
		LEFT JOIN tl ON tl.id = u.tenant_id`
