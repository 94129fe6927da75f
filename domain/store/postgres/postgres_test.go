package postgres_test

import (
	"os"
	"testing"

	"github.com/notifyhub/notifyhub/domain/store/storetest"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	if os.Getenv(storetest.DatabaseURLEnv) == "" {
		t.Skipf("%s is not set: skipping the PostgreSQL conformance suite", storetest.DatabaseURLEnv)
	}
	storetest.Run(t, storetest.OpenPostgres)
}
