package crm_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/crm"
	"github.com/notifyhub/notifyhub/domain/store/sqlstore"
)

func TestUpdateCustomer(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, s *sqlstore.Store, svc *crm.Service) {
		ctx := context.Background()
		c, err := svc.CreateCustomer(ctx, acme, crm.CustomerInput{Name: "Ann", Email: "ann@example.com"})
		require.NoError(t, err)

		name := "  Ann Smith  "
		got, err := svc.UpdateCustomer(ctx, acme, c.ID, crm.CustomerUpdate{Name: &name})
		require.NoError(t, err)
		require.Equal(t, "Ann Smith", got.Name)
		stored, err := svc.GetCustomer(ctx, "acme", c.ID)
		require.NoError(t, err)
		require.Equal(t, "Ann Smith", stored.Name)
		require.Equal(t, "ann@example.com", stored.Email)
		evs := events(t, s, "acme", "CustomerUpdated")
		require.Len(t, evs, 1)
		var e crm.CustomerUpdated
		require.NoError(t, evs[0].Decode(&e))
		require.Equal(t, crm.CustomerUpdated{CustomerID: c.ID, Name: "Ann Smith", Email: "ann@example.com",
			Changes: map[string]crm.FieldChange{"name": {Old: "Ann", New: "Ann Smith"}}}, e)

		// Nothing changes, nothing is written.
		_, err = svc.UpdateCustomer(ctx, acme, c.ID, crm.CustomerUpdate{Name: &name})
		require.NoError(t, err)
		_, err = svc.UpdateCustomer(ctx, acme, c.ID, crm.CustomerUpdate{})
		require.NoError(t, err)
		require.Len(t, events(t, s, "acme", "CustomerUpdated"), 1)

		_, err = svc.UpdateCustomer(ctx, globex, c.ID, crm.CustomerUpdate{Name: &name})
		require.ErrorIs(t, err, domain.ErrNotFound, "another tenant's customer")
		_, err = svc.UpdateCustomer(ctx, viewer, c.ID, crm.CustomerUpdate{Name: &name})
		require.ErrorIs(t, err, domain.ErrForbidden)
		long, empty := strings.Repeat("x", 201), " "
		_, err = svc.UpdateCustomer(ctx, acme, c.ID, crm.CustomerUpdate{Name: &long})
		requireField(t, err, "name")
		_, err = svc.UpdateCustomer(ctx, acme, c.ID, crm.CustomerUpdate{Name: &empty})
		requireField(t, err, "name")
		_, err = svc.UpdateCustomer(ctx, acme, "nope", crm.CustomerUpdate{Name: &name})
		requireField(t, err, "id")
	})
}
