package crm

import (
	"context"
	"fmt"
	"strings"

	"github.com/notifyhub/notifyhub/domain"
)

// CustomerUpdate changes a customer's details; nil fields stay.
type CustomerUpdate struct {
	Name *string `json:"name"`
}

// UpdateCustomer applies the changes and writes CustomerUpdated with the
// fields that really changed, in one transaction. An update that changes
// nothing writes nothing.
func (s *Service) UpdateCustomer(ctx context.Context, actor domain.Actor, id string, in CustomerUpdate) (Customer, error) {
	if err := actor.Require(domain.PermCRMManage); err != nil {
		return Customer{}, err
	}
	id, err := domain.ParseID("id", id)
	if err != nil {
		return Customer{}, err
	}
	v := &domain.ValidationError{}
	if in.Name != nil {
		trimmed := strings.TrimSpace(*in.Name)
		in.Name = &trimmed
		checkName(v, trimmed)
	}
	if err := v.Err(); err != nil {
		return Customer{}, err
	}
	var out Customer
	err = s.store.InTx(ctx, func(ctx context.Context) error {
		c, err := s.store.LockCustomer(ctx, actor.TenantID, id)
		if err != nil {
			return err
		}
		out = c
		changes := map[string]FieldChange{}
		if in.Name != nil && *in.Name != c.Name {
			changes["name"] = FieldChange{Old: c.Name, New: *in.Name}
			c.Name = *in.Name
		}
		if len(changes) == 0 {
			return nil
		}
		c.UpdatedAt = s.clock()
		out = c
		if err := s.store.UpdateCustomer(ctx, c); err != nil {
			return err
		}
		return s.appendEvents(ctx, actor, c.UpdatedAt, CustomerUpdated{
			CustomerID: c.ID, Name: c.Name, Email: c.Email, Changes: changes,
		})
	})
	if err != nil {
		return Customer{}, fmt.Errorf("update customer: %w", err)
	}
	return out, nil
}
