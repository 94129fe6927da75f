package storetest

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/store/sqlstore"
)

var counterTests = map[string]func(t *testing.T, s *sqlstore.Store){
	"NumbersArePerTenantAndName": func(t *testing.T, s *sqlstore.Store) {
		ctx := context.Background()
		next := func(tenant, name string) int64 {
			n, err := s.NextNumber(ctx, domain.TenantID(tenant), name)
			require.NoError(t, err)
			return n
		}
		require.Equal(t, int64(1), next("a", "order"))
		require.Equal(t, int64(2), next("a", "order"))
		require.Equal(t, int64(1), next("a", "invoice"))
		require.Equal(t, int64(1), next("b", "order"), "another tenant counts on its own")
	},
	"RollbackGivesTheNumberBack": func(t *testing.T, s *sqlstore.Store) {
		ctx := context.Background()
		err := s.InTx(ctx, func(ctx context.Context) error {
			n, err := s.NextNumber(ctx, tenantA, "order")
			require.NoError(t, err)
			require.Equal(t, int64(1), n)
			return errBoom
		})
		require.ErrorIs(t, err, errBoom)
		n, err := s.NextNumber(ctx, tenantA, "order")
		require.NoError(t, err)
		require.Equal(t, int64(1), n)
	},
	"ConcurrentCallersGetDistinctNumbers": func(t *testing.T, s *sqlstore.Store) {
		ctx := context.Background()
		const callers = 8
		got := make(chan int64, callers)
		var wg sync.WaitGroup
		for range callers {
			wg.Go(func() {
				var n int64
				require.NoError(t, s.InTx(ctx, func(ctx context.Context) (err error) {
					n, err = s.NextNumber(ctx, tenantA, "order")
					return err
				}))
				got <- n
			})
		}
		wg.Wait()
		close(got)
		seen := map[int64]bool{}
		for n := range got {
			require.False(t, seen[n], "number %d handed out twice", n)
			seen[n] = true
		}
		require.Len(t, seen, callers)
	},
	"EmptyNameIsRefused": func(t *testing.T, s *sqlstore.Store) {
		_, err := s.NextNumber(context.Background(), tenantA, "")
		require.Error(t, err)
	},
}
