package notification

import (
	"context"

	"github.com/notifyhub/notifyhub/domain"
)

// PermissionSend is one draft addressed, like SendToPermission, to every
// known user of the tenant holding the permission.
type PermissionSend struct {
	Tenant     domain.TenantID
	Permission string
	Draft      Draft
}

// SendToPermissions is SendToPermission for several drafts at once, in one
// transaction (a listener's group commit of many events): each tenant's
// audience of a permission is read once, the notifications of all drafts
// are inserted together (one batch per tenant) and pushed after commit.
// sent[i] are the notifications of ps[i]; a user's notifications get
// consecutive seqs in the order of ps. Inside a caller's InTx it joins it.
func (s *Service) SendToPermissions(ctx context.Context, ps []PermissionSend) (sent [][]domain.Notification, err error) {
	if len(ps) == 0 {
		return nil, nil
	}
	type audience struct {
		tenant domain.TenantID
		perm   string
	}
	err = s.store.InTx(ctx, func(ctx context.Context) error {
		// The transaction may be retried: everything is read afresh.
		users := map[audience][]domain.UserID{}
		ds := make([]delivery, len(ps))
		for i, p := range ps {
			a := audience{p.Tenant, p.Permission}
			ids, ok := users[a]
			if !ok {
				holders, err := s.store.UsersWithPermission(ctx, p.Tenant, p.Permission)
				if err != nil {
					return err
				}
				ids = make([]domain.UserID, len(holders))
				for j, u := range holders {
					ids[j] = u.ID
				}
				users[a] = ids
			}
			ds[i] = delivery{tenant: p.Tenant, users: ids, draft: p.Draft}
		}
		var err error
		sent, err = s.sendAll(ctx, ds)
		return err
	})
	if err != nil {
		return nil, err
	}
	return sent, nil
}
