// Package crm owns customers and leads: creating a customer (CustomerCreated),
// converting a lead once into a customer (LeadConverted plus
// CustomerCreated), and customer statistics, which are always recomputed
// from the source rows (orders, invoices, payments), never incremented.
package crm
