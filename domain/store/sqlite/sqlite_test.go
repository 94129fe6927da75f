package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/store/sqlite"
	"github.com/notifyhub/notifyhub/domain/store/storetest"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, storetest.OpenSQLite)
}

func TestReopenKeepsDataAndSkipsApplied(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "reopen.db")
	s, err := sqlite.Open(ctx, path, nil)
	require.NoError(t, err)
	v, err := s.PutSettingIfAbsent(ctx, "k", "v")
	require.NoError(t, err)
	require.Equal(t, "v", v)
	require.NoError(t, s.Close())
	require.NoError(t, s.Close(), "closing twice is harmless")

	s, err = sqlite.Open(ctx, path, nil)
	require.NoError(t, err, "migrations already applied are skipped")
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	v, err = s.Setting(ctx, "k")
	require.NoError(t, err)
	require.Equal(t, "v", v)
}

func TestPragmas(t *testing.T) {
	t.Parallel()
	s := storetest.OpenSQLite(t)
	ctx := context.Background()
	var mode string
	require.NoError(t, s.DB().QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode))
	require.Equal(t, "wal", mode)
	var fk, busy int
	require.NoError(t, s.DB().QueryRowContext(ctx, `PRAGMA foreign_keys`).Scan(&fk))
	require.Equal(t, 1, fk)
	require.NoError(t, s.DB().QueryRowContext(ctx, `PRAGMA busy_timeout`).Scan(&busy))
	require.Positive(t, busy)
}

func TestMemoryIsAThrowawayFile(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, err := sqlite.Open(ctx, sqlite.Memory, nil)
	require.NoError(t, err)
	var file string
	require.NoError(t, s.DB().QueryRowContext(ctx, `SELECT file FROM pragma_database_list WHERE name = 'main'`).Scan(&file))
	require.FileExists(t, file)
	// Every pooled connection sees the same database.
	require.NoError(t, s.UpsertUser(ctx, domain.User{TenantID: "t", ID: "u"}))
	_, err = s.GetUser(ctx, "t", "u")
	require.NoError(t, err)
	require.NoError(t, s.Close())
	require.NoFileExists(t, file, "Close removes the throwaway database")
}

func TestPathsAreTakenLiterally(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "odd ?name#with%chars.db")
	s, err := sqlite.Open(ctx, path, nil)
	require.NoError(t, err)
	require.NoError(t, s.Close())
	require.FileExists(t, path)
}

func TestOpenErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, err := sqlite.Open(ctx, "", nil)
	require.Error(t, err)
	_, err = sqlite.Open(ctx, filepath.Join(t.TempDir(), "missing-dir", "x.db"), nil)
	require.Error(t, err)
}
