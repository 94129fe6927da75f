package sqlstore

import (
	"context"

	"github.com/notifyhub/notifyhub/domain"
)

// InboxHead reads what a socket's catch-up without a cursor needs, the
// user's latest notification seq (0 when they have none) and their unread
// count, in one round trip instead of MaxSeq then UnreadCount. Each figure
// is its own subquery so that each keeps its index (the inbox index's last
// entry, the unread partial index), and the two are read from one snapshot.
func (s *Store) InboxHead(ctx context.Context, tenant domain.TenantID, user domain.UserID) (maxSeq int64, unread int, err error) {
	err = s.queryRow(ctx, `SELECT
		(SELECT COALESCE(MAX(seq), 0) FROM notifications WHERE tenant_id = ? AND user_id = ?),
		(SELECT COUNT(*) FROM notifications WHERE tenant_id = ? AND user_id = ? AND read_at IS NULL)`,
		tenant, user, tenant, user).Scan(&maxSeq, &unread)
	if err != nil {
		return 0, 0, s.wrap("inbox head", err)
	}
	return maxSeq, unread, nil
}
