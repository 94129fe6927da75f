package sqlstore

import (
	"context"
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
// and an UnreadCount per user. Each figure is a correlated subquery scoped
// by the row's own tenant and user, so that each keeps its index (the
// inbox index's last entry, the unread partial index), and all are read
// from one snapshot.
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
	var q strings.Builder
	q.WriteString(`WITH u (tenant_id, user_id) AS (VALUES `)
	args := make([]any, 0, 2*len(users))
	for i, u := range users {
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString("(?, ?)")
		args = append(args, tenants[i], u)
	}
	q.WriteString(`) SELECT u.tenant_id, u.user_id,
		(SELECT COALESCE(MAX(n.seq), 0) FROM notifications n WHERE n.tenant_id = u.tenant_id AND n.user_id = u.user_id),
		(SELECT COUNT(*) FROM notifications n WHERE n.tenant_id = u.tenant_id AND n.user_id = u.user_id AND n.read_at IS NULL)
		FROM u`)
	rows, err := s.query(ctx, q.String(), args...)
	if err != nil {
		return s.wrap("inbox heads", err)
	}
	defer rows.Close()
	seen := make([]bool, len(users))
	for rows.Next() {
		var (
			tenant domain.TenantID
			user   domain.UserID
			seq    int64
			count  int
			placed bool
		)
		if err := rows.Scan(&tenant, &user, &seq, &count); err != nil {
			return s.wrap("inbox heads", err)
		}
		// Rows come in no promised order: place each by its key.
		for i, u := range users {
			if u == user && tenants[i] == tenant && !seen[i] {
				maxSeqs[i], unread[i], seen[i], placed = seq, count, true, true
				break
			}
		}
		if !placed {
			return fmt.Errorf("inbox heads: a row for %s/%s, not asked for", tenant, user)
		}
	}
	if err := rows.Err(); err != nil {
		return s.wrap("inbox heads", err)
	}
	if i := slices.Index(seen, false); i >= 0 {
		return fmt.Errorf("inbox heads: no row for %s/%s", tenants[i], users[i])
	}
	return nil
}
