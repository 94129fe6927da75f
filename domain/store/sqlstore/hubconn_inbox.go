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
// needs, for several users of one tenant in one round trip: each user's
// latest notification seq (0 when they have none) and unread count,
// aligned with users (a user may be given twice). It replaces a MaxSeq and
// an UnreadCount per user. Each figure is its own correlated subquery, so
// that each keeps its index (the inbox index's last entry, the unread
// partial index), and all are read from one snapshot.
func (s *Store) InboxHeads(ctx context.Context, tenant domain.TenantID, users []domain.UserID) (maxSeqs []int64, unread []int, err error) {
	maxSeqs, unread = make([]int64, len(users)), make([]int, len(users))
	for start := 0; start < len(users); start += maxUsersPerInboxHeads {
		chunk := users[start:min(start+maxUsersPerInboxHeads, len(users))]
		if err := s.inboxHeads(ctx, tenant, chunk, maxSeqs[start:], unread[start:]); err != nil {
			return nil, nil, err
		}
	}
	return maxSeqs, unread, nil
}

func (s *Store) inboxHeads(ctx context.Context, tenant domain.TenantID, users []domain.UserID, maxSeqs []int64, unread []int) error {
	var q strings.Builder
	q.WriteString(`WITH u (user_id) AS (VALUES `)
	args := make([]any, 0, len(users)+2)
	for i, u := range users {
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString("(?)")
		args = append(args, u)
	}
	q.WriteString(`) SELECT u.user_id,
		(SELECT COALESCE(MAX(n.seq), 0) FROM notifications n WHERE n.tenant_id = ? AND n.user_id = u.user_id),
		(SELECT COUNT(*) FROM notifications n WHERE n.tenant_id = ? AND n.user_id = u.user_id AND n.read_at IS NULL)
		FROM u`)
	args = append(args, tenant, tenant)
	rows, err := s.query(ctx, q.String(), args...)
	if err != nil {
		return s.wrap("inbox heads", err)
	}
	defer rows.Close()
	seen := make([]bool, len(users))
	for rows.Next() {
		var (
			user   domain.UserID
			seq    int64
			count  int
			placed bool
		)
		if err := rows.Scan(&user, &seq, &count); err != nil {
			return s.wrap("inbox heads", err)
		}
		// Rows come in no promised order: place each by its user.
		for i, u := range users {
			if u == user && !seen[i] {
				maxSeqs[i], unread[i], seen[i], placed = seq, count, true, true
				break
			}
		}
		if !placed {
			return fmt.Errorf("inbox heads: a row for %q, not asked for", user)
		}
	}
	if err := rows.Err(); err != nil {
		return s.wrap("inbox heads", err)
	}
	if i := slices.Index(seen, false); i >= 0 {
		return fmt.Errorf("inbox heads: no row for %q", users[i])
	}
	return nil
}
