package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain/store/sqlstore"
)

var settingTests = map[string]func(t *testing.T, s *sqlstore.Store){
	"FirstWriterWins": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		_, err := s.Setting(ctx, "jwt_secret")
		requireNotFound(t, err)
		v, err := s.PutSettingIfAbsent(ctx, "jwt_secret", "first")
		require.NoError(t, err)
		require.Equal(t, "first", v)
		v, err = s.PutSettingIfAbsent(ctx, "jwt_secret", "second")
		require.NoError(t, err)
		require.Equal(t, "first", v, "the stored value wins")
		v, err = s.Setting(ctx, "jwt_secret")
		require.NoError(t, err)
		require.Equal(t, "first", v)
		_, err = s.PutSettingIfAbsent(ctx, "", "x")
		requireInvalid(t, err)
	},
	"ConcurrentPutsAgree": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		const n = 8
		got := make([]string, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { got[i], errs[i] = s.PutSettingIfAbsent(ctx, "k", fmt.Sprint("v", i)) })
		}
		wg.Wait()
		stored, err := s.Setting(ctx, "k")
		require.NoError(t, err)
		for i := range n {
			require.NoError(t, errs[i])
			require.Equal(t, stored, got[i], "every caller learns the winner")
		}
	},
	"SwapOnlyFromTheExpectedValue": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		_, err := s.PutSettingIfAbsent(ctx, "epoch", "a")
		require.NoError(t, err)
		won, err := s.SwapSetting(ctx, "epoch", "stale", "b")
		require.NoError(t, err)
		require.False(t, won, "the stored value is not the expected one")
		const n = 8
		wins := make([]bool, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				var err error
				wins[i], err = s.SwapSetting(ctx, "epoch", "a", fmt.Sprint("b", i))
				require.NoError(t, err)
			})
		}
		wg.Wait()
		count := 0
		for _, w := range wins {
			if w {
				count++
			}
		}
		require.Equal(t, 1, count, "exactly one concurrent swapper wins")
		won, err = s.SwapSetting(ctx, "missing", "", "x")
		require.NoError(t, err)
		require.False(t, won)
	},
	"HostileStrings": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		for _, h := range hostile {
			v, err := s.PutSettingIfAbsent(ctx, h, h)
			require.NoError(t, err)
			require.Equal(t, h, v)
			v, err = s.Setting(ctx, h)
			require.NoError(t, err)
			require.Equal(t, h, v)
		}
	},
}

var opsTests = map[string]func(t *testing.T, s *sqlstore.Store){
	"PingDialectDB": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		require.NoError(t, s.Ping(ctx))
		require.Contains(t, []string{"postgres", "sqlite"}, s.Dialect())
		require.NotNil(t, s.DB())
		require.NoError(t, s.DB().PingContext(ctx))
	},
	"QuerierJoinsTx": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		insert := `INSERT INTO settings (key, value) VALUES (?, ?)`
		if s.Dialect() == "postgres" {
			insert = `INSERT INTO settings (key, value) VALUES ($1, $2)`
		}
		err := s.InTx(ctx, func(ctx context.Context) error {
			_, err := s.Querier(ctx).ExecContext(ctx, insert, "via-querier", "v")
			require.NoError(t, err)
			return errBoom
		})
		require.ErrorIs(t, err, errBoom)
		_, err = s.Setting(ctx, "via-querier")
		requireNotFound(t, err, "the querier wrote in the rolled-back transaction")
	},
}
