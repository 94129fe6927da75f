package postgres_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain/store/postgres"
)

func TestPoolSize(t *testing.T) {
	cfg, err := postgres.PoolConfig("postgres://u@127.0.0.1:5432/db?sslmode=disable")
	require.NoError(t, err)
	require.Equal(t, postgres.DefaultMaxConns(), cfg.MaxConns, "no pool_max_conns: our default, not pgx's")
	require.GreaterOrEqual(t, cfg.MaxConns, int32(16))

	cfg, err = postgres.PoolConfig("postgres://u@127.0.0.1:5432/db?sslmode=disable&pool_max_conns=3")
	require.NoError(t, err)
	require.Equal(t, int32(3), cfg.MaxConns, "the URL's pool_max_conns wins")

	cfg, err = postgres.PoolConfig("host=127.0.0.1 dbname=db pool_max_conns=5")
	require.NoError(t, err)
	require.Equal(t, int32(5), cfg.MaxConns, "also in key=value form")

	_, err = postgres.PoolConfig("postgres://u:secret@[::1")
	require.Error(t, err)
	require.NotContains(t, err.Error(), "secret", "the error never quotes the password")
}
