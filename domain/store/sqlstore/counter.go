package sqlstore

import (
	"context"
	"fmt"

	"github.com/notifyhub/notifyhub/domain"
)

// NextNumber returns the next value (1, 2, ...) of the tenant's counter
// name, for document numbers such as SO-000001. The upsert's row lock
// serialises concurrent callers until commit, so numbers are unique, and a
// rolled-back transaction gives its number back. Call it inside InTx.
func (s *Store) NextNumber(ctx context.Context, tenant domain.TenantID, name string) (int64, error) {
	if name == "" {
		return 0, fmt.Errorf("next number: %w", domain.Invalid("name", "required"))
	}
	var n int64
	err := s.queryRow(ctx, `INSERT INTO counters (tenant_id, name, value) VALUES (?, ?, 1)
		ON CONFLICT (tenant_id, name) DO UPDATE SET value = counters.value + 1
		RETURNING value`, string(tenant), name).Scan(&n)
	if err != nil {
		return 0, s.wrap("next number", err)
	}
	return n, nil
}
