package storetest

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain/store/sqlstore"
)

var txTests = map[string]func(t *testing.T, s *sqlstore.Store){
	"CommitThenAfterCommit": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		p := newProduct(tenantA, "SKU-1")
		var seen []string
		err := s.InTx(ctx, func(ctx context.Context) error {
			require.NoError(t, s.InsertProduct(ctx, p))
			s.AfterCommit(ctx, func() {
				// Runs after commit: the row is visible outside the transaction.
				_, err := s.GetProduct(context.Background(), tenantA, p.ID)
				require.NoError(t, err, "after-commit callback must see the committed row")
				seen = append(seen, "first")
			})
			s.AfterCommit(ctx, func() { seen = append(seen, "second") })
			require.Empty(t, seen, "callbacks must wait for the commit")
			return nil
		})
		require.NoError(t, err)
		require.Equal(t, []string{"first", "second"}, seen)
	},
	"RollbackLeavesNothing": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		p := newProduct(tenantA, "SKU-1")
		ran := false
		err := s.InTx(ctx, func(ctx context.Context) error {
			require.NoError(t, s.InsertProduct(ctx, p))
			require.NoError(t, s.AppendEvents(ctx, newEvent(t, tenantA, "ProductCreated", 0)))
			_, err := s.GetProduct(ctx, tenantA, p.ID)
			require.NoError(t, err, "the transaction sees its own writes")
			s.AfterCommit(ctx, func() { ran = true })
			return errBoom
		})
		require.ErrorIs(t, err, errBoom)
		require.False(t, ran, "AfterCommit must not run on rollback")
		require.False(t, signalled(s), "a rolled-back append must not signal the relay")
		_, err = s.GetProduct(ctx, tenantA, p.ID)
		requireNotFound(t, err)
		events, err := s.ListEvents(ctx, tenantA, "", "", 0)
		require.NoError(t, err)
		require.Empty(t, events)
	},
	"NestedJoinsOuter": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		outer, inner := newProduct(tenantA, "OUTER"), newProduct(tenantA, "INNER")
		ran := false
		err := s.InTx(ctx, func(ctx context.Context) error {
			require.NoError(t, s.InsertProduct(ctx, outer))
			require.NoError(t, s.InTx(ctx, func(ctx context.Context) error {
				_, err := s.GetProduct(ctx, tenantA, outer.ID)
				require.NoError(t, err, "inner sees the outer transaction's writes")
				s.AfterCommit(ctx, func() { ran = true })
				return s.InsertProduct(ctx, inner)
			}))
			require.False(t, ran, "inner InTx must not commit: the outer one decides")
			return errBoom
		})
		require.ErrorIs(t, err, errBoom)
		require.False(t, ran)
		for _, p := range []string{outer.ID, inner.ID} {
			_, err := s.GetProduct(ctx, tenantA, p)
			requireNotFound(t, err, "the outer rollback undoes the inner writes")
		}

		err = s.InTx(ctx, func(ctx context.Context) error {
			return s.InTx(ctx, func(ctx context.Context) error {
				s.AfterCommit(ctx, func() { ran = true })
				return s.InsertProduct(ctx, inner)
			})
		})
		require.NoError(t, err)
		require.True(t, ran)
		_, err = s.GetProduct(ctx, tenantA, inner.ID)
		require.NoError(t, err)
	},
	"InnerErrorRollsBackAll": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		outer := newProduct(tenantA, "OUTER")
		err := s.InTx(ctx, func(ctx context.Context) error {
			require.NoError(t, s.InsertProduct(ctx, outer))
			return s.InTx(ctx, func(ctx context.Context) error { return errBoom })
		})
		require.ErrorIs(t, err, errBoom)
		_, err = s.GetProduct(ctx, tenantA, outer.ID)
		requireNotFound(t, err)
	},
	"PanicRollsBack": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		p := newProduct(tenantA, "SKU-1")
		require.PanicsWithValue(t, "kaboom", func() {
			_ = s.InTx(ctx, func(ctx context.Context) error {
				require.NoError(t, s.InsertProduct(ctx, p))
				panic("kaboom")
			})
		})
		_, err := s.GetProduct(ctx, tenantA, p.ID)
		requireNotFound(t, err)
		// The connection went back to the pool in a usable state.
		require.NoError(t, s.InTx(ctx, func(ctx context.Context) error { return s.InsertProduct(ctx, p) }))
	},
	"AfterCommitOutsideTxRunsAtOnce": func(t *testing.T, s *sqlstore.Store) {
		ran := false
		s.AfterCommit(ctxFor(t), func() { ran = true })
		require.True(t, ran)
	},
	"FinishedTxContextFallsBackToPool": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		var txCtx context.Context
		require.NoError(t, s.InTx(ctx, func(ctx context.Context) error {
			txCtx = ctx
			return nil
		}))
		// A context kept past its transaction (say, by a callback) still works.
		p := newProduct(tenantA, "LATE")
		require.NoError(t, s.InsertProduct(txCtx, p))
		_, err := s.GetProduct(ctx, tenantA, p.ID)
		require.NoError(t, err)
		ran := false
		s.AfterCommit(txCtx, func() { ran = true })
		require.True(t, ran, "no live transaction: AfterCommit runs at once")
	},
	"EventSignalAfterCommit": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		signalled(s) // start from a drained channel
		err := s.InTx(ctx, func(ctx context.Context) error {
			require.NoError(t, s.AppendEvents(ctx, newEvent(t, tenantA, "ProductCreated", 0)))
			require.False(t, signalled(s), "no signal before commit")
			return nil
		})
		require.NoError(t, err)
		require.True(t, signalled(s), "commit of an append signals the relay")
		require.False(t, signalled(s), "one signal per commit at most (coalesced)")

		// Outside a transaction the append commits, and signals, on its own.
		require.NoError(t, s.AppendEvents(ctx, newEvent(t, tenantA, "ProductCreated", 0), newEvent(t, tenantA, "ProductCreated", 0)))
		require.True(t, signalled(s))

		// A transaction that appends nothing does not signal.
		require.NoError(t, s.InTx(ctx, func(ctx context.Context) error {
			return s.InsertProduct(ctx, newProduct(tenantA, "QUIET"))
		}))
		require.False(t, signalled(s))
	},
	"CancelledContext": func(t *testing.T, s *sqlstore.Store) {
		ctx, cancel := context.WithCancel(ctxFor(t))
		cancel()
		err := s.InTx(ctx, func(ctx context.Context) error { return nil })
		require.ErrorIs(t, err, context.Canceled)
	},
}
