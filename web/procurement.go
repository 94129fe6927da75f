package web

import (
	"context"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/procurement"
	"github.com/notifyhub/notifyhub/web/auth"
)

// ProcurementService runs vendors and purchase orders
// (*procurement.Service). It checks the actor's permission and validates
// input itself; another tenant's ids are domain.ErrNotFound.
type ProcurementService interface {
	CreateVendor(ctx context.Context, actor domain.Actor, in procurement.VendorInput) (procurement.Vendor, error)
	GetVendor(ctx context.Context, tenant domain.TenantID, id string) (procurement.Vendor, error)
	ListVendors(ctx context.Context, tenant domain.TenantID, f procurement.VendorFilter) ([]procurement.Vendor, error)
	CreatePurchaseOrder(ctx context.Context, actor domain.Actor, in procurement.CreateInput) (procurement.PurchaseOrder, error)
	GetPurchaseOrder(ctx context.Context, tenant domain.TenantID, id string) (procurement.PurchaseOrder, error)
	ListPurchaseOrders(ctx context.Context, tenant domain.TenantID, f procurement.OrderFilter) ([]procurement.PurchaseOrder, error)
	// Approve: a RuleError purchase_order_not_pending unless pending.
	Approve(ctx context.Context, actor domain.Actor, id string) (procurement.PurchaseOrder, error)
	// Receive records a goods receipt and its stock movements in one
	// transaction: RuleErrors purchase_order_not_approved, over_receipt.
	Receive(ctx context.Context, actor domain.Actor, orderID string, in procurement.ReceiveInput) (procurement.Receipt, error)
	ListReceipts(ctx context.Context, tenant domain.TenantID, orderID string, f procurement.ReceiptFilter) ([]procurement.Receipt, error)
}

// procurementRoutes mounts the vendor and purchase order API (DESIGN.md §4.6).
func (s *server) procurementRoutes(r chi.Router) {
	r.Get("/vendors", s.api(s.listVendors))
	r.Post("/vendors", s.api(s.createVendor))
	r.Get("/vendors/{id}", s.api(s.getVendor))
	r.Get("/purchase-orders", s.api(s.listPurchaseOrders))
	r.Post("/purchase-orders", s.api(s.createPurchaseOrder))
	r.Get("/purchase-orders/{id}", s.api(s.getPurchaseOrder))
	r.Post("/purchase-orders/{id}/approve", s.api(s.approvePurchaseOrder))
	r.Get("/purchase-orders/{id}/receipts", s.api(s.listReceipts))
	r.Post("/purchase-orders/{id}/receipts", s.api(s.receiveGoods))
}

func (s *server) createVendor(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
	var in procurement.VendorInput
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	v, err := s.deps.Procurement.CreateVendor(r.Context(), c.Actor(), in)
	if err == nil {
		w.Header().Set("Location", "/api/v1/vendors/"+v.ID)
	}
	return reply(w, http.StatusCreated, v, err)
}

func (s *server) getVendor(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	v, err := s.deps.Procurement.GetVendor(r.Context(), c.TenantID, id)
	return reply(w, http.StatusOK, v, err)
}

func (s *server) listVendors(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
	q := r.URL.Query()
	v := &domain.ValidationError{}
	pg := parsePage(q, v)
	if err := v.Err(); err != nil {
		return err
	}
	items, err := s.deps.Procurement.ListVendors(r.Context(), c.TenantID, procurement.VendorFilter{After: pg.After, Limit: pg.Limit})
	return reply(w, http.StatusOK, newList(items, pg.Limit, func(v procurement.Vendor) string { return v.ID }), err)
}

func (s *server) createPurchaseOrder(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
	var in procurement.CreateInput
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	po, err := s.deps.Procurement.CreatePurchaseOrder(r.Context(), c.Actor(), in)
	if err == nil {
		w.Header().Set("Location", "/api/v1/purchase-orders/"+po.ID)
	}
	return reply(w, http.StatusCreated, po, err)
}

func (s *server) getPurchaseOrder(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	po, err := s.deps.Procurement.GetPurchaseOrder(r.Context(), c.TenantID, id)
	return reply(w, http.StatusOK, po, err)
}

func (s *server) listPurchaseOrders(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
	q := r.URL.Query()
	v := &domain.ValidationError{}
	pg := parsePage(q, v)
	vendor, err := optionalID("vendor_id", q.Get("vendor_id"))
	if err != nil {
		v.Add("vendor_id", "must be a vendor id")
	}
	status := procurement.Status(q.Get("status"))
	if status != "" && !status.Valid() {
		v.Add("status", "must be pending, approved, partially_received or received")
	}
	if err := v.Err(); err != nil {
		return err
	}
	items, err := s.deps.Procurement.ListPurchaseOrders(r.Context(), c.TenantID, procurement.OrderFilter{
		VendorID: vendor, Status: status, After: pg.After, Limit: pg.Limit,
	})
	return reply(w, http.StatusOK, newList(items, pg.Limit, func(po procurement.PurchaseOrder) string { return po.ID }), err)
}

// approvePurchaseOrder answers 200 with the approved order: approval
// changes the order, it creates nothing.
func (s *server) approvePurchaseOrder(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	po, err := s.deps.Procurement.Approve(r.Context(), c.Actor(), id)
	return reply(w, http.StatusOK, po, err)
}

func (s *server) receiveGoods(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var in procurement.ReceiveInput
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	receipt, err := s.deps.Procurement.Receive(r.Context(), c.Actor(), id, in)
	return reply(w, http.StatusCreated, receipt, err)
}

func (s *server) listReceipts(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	v := &domain.ValidationError{}
	pg := parsePage(q, v)
	if err := v.Err(); err != nil {
		return err
	}
	items, err := s.deps.Procurement.ListReceipts(r.Context(), c.TenantID, id, procurement.ReceiptFilter{After: pg.After, Limit: pg.Limit})
	return reply(w, http.StatusOK, newList(items, pg.Limit, func(r procurement.Receipt) string { return r.ID }), err)
}
