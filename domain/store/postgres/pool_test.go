package postgres_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain/store/postgres"
)

func TestPoolSize(t *testing.T) {
	n, err := postgres.PoolMaxConns("postgres://u@127.0.0.1:5432/db?sslmode=disable")
	require.NoError(t, err)
	require.Equal(t, postgres.DefaultMaxConns(), n, "no pool_max_conns: our default, not pgx's")
	require.GreaterOrEqual(t, n, int32(16))

	n, err = postgres.PoolMaxConns("postgres://u@127.0.0.1:5432/db?sslmode=disable&pool_max_conns=3")
	require.NoError(t, err)
	require.Equal(t, int32(3), n, "the URL's pool_max_conns wins")

	n, err = postgres.PoolMaxConns("host=127.0.0.1 dbname=db pool_max_conns=5")
	require.NoError(t, err)
	require.Equal(t, int32(5), n, "also in key=value form")

	_, err = postgres.PoolMaxConns("postgres://u:secret@[::1")
	require.Error(t, err)
	require.NotContains(t, err.Error(), "secret", "the error never quotes the password")
}
