package domain

import "slices"

// Permissions (DESIGN.md §4.2). PermAdmin implies every other one.
const (
	PermProductsManage     = "products.manage"
	PermInventoryManage    = "inventory.manage"
	PermInventoryAlerts    = "inventory.alerts"
	PermSalesManage        = "sales.manage"
	PermSalesApprove       = "sales.approve"
	PermInvoicesManage     = "invoices.manage"
	PermCRMManage          = "crm.manage"
	PermProcurementManage  = "procurement.manage"
	PermProcurementApprove = "procurement.approve"
	PermReportsRun         = "reports.run"
	PermImportsRun         = "imports.run"
	PermNotificationsSend  = "notifications.send"
	PermAdmin              = "admin"
)

// User is a person of a tenant, as known from the claims of their token.
type User struct {
	TenantID TenantID `json:"tenant_id"`
	ID       UserID   `json:"id"`
	Name     string   `json:"name"`
	Email    string   `json:"email"`
	Perms    []string `json:"perms"`
}

// Can reports whether the user holds perm, directly or through admin.
func (u User) Can(perm string) bool {
	return slices.Contains(u.Perms, perm) || slices.Contains(u.Perms, PermAdmin)
}

// Actor is who issues a command: the verified identity of the caller.
type Actor struct {
	TenantID TenantID
	UserID   UserID
	Perms    []string
}

// Can reports whether the actor holds perm, directly or through admin.
func (a Actor) Can(perm string) bool {
	return slices.Contains(a.Perms, perm) || slices.Contains(a.Perms, PermAdmin)
}

// Require returns ErrForbidden unless the actor holds perm.
func (a Actor) Require(perm string) error {
	if !a.Can(perm) {
		return ErrForbidden
	}
	return nil
}

// SystemUserID acts for work that no person started: listeners reacting to
// events and the scheduled detectors.
const SystemUserID UserID = "system"

// SystemActor is the actor of such work in a tenant: it may do anything
// there, and nothing in another tenant.
func SystemActor(tenant TenantID) Actor {
	return Actor{TenantID: tenant, UserID: SystemUserID, Perms: []string{PermAdmin}}
}
