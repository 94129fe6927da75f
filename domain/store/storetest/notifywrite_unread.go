package storetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/store/sqlstore"
)

// unreadCounterTests check users.unread_count (migration 00009) against a
// real count after random inserts and changes of read state, alone and
// concurrently: a path that forgot to adjust it, or adjusted it by a
// recount instead of its own delta, shows as a mismatch.
var unreadCounterTests = map[string]func(t *testing.T, s *sqlstore.Store){
	"CounterMatchesCountAfterRandomChanges": func(t *testing.T, s *sqlstore.Store) {
		rng := rand.New(rand.NewPCG(5, 9))
		users := []struct {
			tenant domain.TenantID
			user   domain.UserID
		}{{tenantA, userA}, {tenantA, userB}, {tenantB, userA}}
		var ids [][]string // per user
		for range users {
			ids = append(ids, nil)
		}
		ctx := ctxFor(t)
		for step := range 300 {
			i := rng.IntN(len(users))
			tenant, user := users[i].tenant, users[i].user
			switch op := rng.IntN(10); {
			case op < 3 || len(ids[i]) == 0:
				n := newNotification(tenant, user, fmt.Sprintf("one %d", step))
				if rng.IntN(4) == 0 {
					read := at(1)
					n.ReadAt = &read // stored read: not counted
				}
				require.NoError(t, s.InsertNotification(ctx, n))
				ids[i] = append(ids[i], n.ID)
			case op < 5:
				// A batch across users and tenants' users of one tenant,
				// one user listed twice, some stored read.
				var batch []*domain.Notification
				for j := range users {
					if users[j].tenant != tenant {
						continue
					}
					for range 1 + rng.IntN(2) {
						n := newNotification(tenant, users[j].user, fmt.Sprintf("batch %d", step))
						if rng.IntN(5) == 0 {
							read := at(2)
							n.ReadAt = &read
						}
						batch = append(batch, n)
					}
				}
				require.NoError(t, s.InsertNotifications(ctx, batch))
				for _, n := range batch {
					for j := range users {
						if users[j].tenant == n.TenantID && users[j].user == n.UserID {
							ids[j] = append(ids[j], n.ID)
						}
					}
				}
			case op < 7:
				_, err := s.MarkRead(ctx, tenant, user, ids[i][rng.IntN(len(ids[i]))], at(3))
				require.NoError(t, err)
			case op < 9:
				_, err := s.MarkUnread(ctx, tenant, user, ids[i][rng.IntN(len(ids[i]))])
				require.NoError(t, err)
			default:
				_, err := s.MarkAllRead(ctx, tenant, user, at(4))
				require.NoError(t, err)
			}
			if step%25 == 0 {
				requireUnreadCounters(t, s)
			}
		}
		requireUnreadCounters(t, s)
	},
	"CounterMatchesCountAfterConcurrentChanges": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		seed := insertNotifications(t, s, tenantA, userA, 20)
		var wg sync.WaitGroup
		for w := range 6 {
			wg.Go(func() {
				rng := rand.New(rand.NewPCG(uint64(w), 3))
				for range 25 {
					var err error
					switch rng.IntN(5) {
					case 0:
						err = s.InsertNotifications(ctx, []*domain.Notification{
							newNotification(tenantA, userA, "c"), newNotification(tenantA, userB, "c")})
					case 1:
						_, err = s.MarkRead(ctx, tenantA, userA, seed[rng.IntN(len(seed))].ID, at(1))
					case 2:
						_, err = s.MarkUnread(ctx, tenantA, userA, seed[rng.IntN(len(seed))].ID)
					case 3:
						_, err = s.MarkAllRead(ctx, tenantA, userA, at(2))
					default:
						err = s.InsertNotification(ctx, newNotification(tenantA, userA, "c"))
					}
					if err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		requireUnreadCounters(t, s)
	},
}

// requireUnreadCounters compares every user's counter, as UnreadCount and
// InboxHeads read it, with a count of their unread notifications: their
// unread personal rows and the broadcasts they got and have not read.
func requireUnreadCounters(t *testing.T, s *sqlstore.Store) {
	t.Helper()
	rows, err := s.DB().QueryContext(context.Background(), `SELECT u.tenant_id, u.id,
		u.unread_count + t.broadcast_seq - u.broadcast_base,
		(SELECT COUNT(*) FROM notifications n WHERE n.tenant_id = u.tenant_id AND n.user_id = u.id AND n.read_at IS NULL) +
		(SELECT COUNT(*) FROM broadcasts b WHERE b.tenant_id = u.tenant_id AND b.bseq > u.broadcast_base
			AND NOT EXISTS (SELECT 1 FROM broadcast_reads r
				WHERE r.tenant_id = b.tenant_id AND r.user_id = u.id AND r.bseq = b.bseq))
		FROM users u JOIN tenants t ON t.id = u.tenant_id`)
	require.NoError(t, err)
	defer rows.Close()
	checked := 0
	for rows.Next() {
		var (
			tenant        domain.TenantID
			user          domain.UserID
			counter, real int
		)
		require.NoError(t, rows.Scan(&tenant, &user, &counter, &real))
		require.Equal(t, real, counter, "unread_count of %s/%s", tenant, user)
		n, err := s.UnreadCount(ctxFor(t), tenant, user)
		require.NoError(t, err)
		require.Equal(t, real, n)
		_, m, err := s.InboxHeads(ctxFor(t), []domain.TenantID{tenant, tenant}, []domain.UserID{user, "nobody"})
		require.NoError(t, err)
		require.Equal(t, []int{real, 0}, m, "InboxHeads reads the same counter")
		checked++
	}
	require.NoError(t, rows.Err())
	require.NotZero(t, checked)
}
