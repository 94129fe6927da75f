// Package invoice owns invoices and payments: one invoice per approved
// order (InvoiceGenerated), payments never above the outstanding balance
// (InvoicePaymentReceived), overdue detection (InvoiceOverdue, once per
// threshold) and the record of each invoice's delivery to the customer.
package invoice
