// Package procurement owns vendors and purchase orders: approval
// (PurchaseOrderApproved, only when pending) and receipts of goods
// (GoodsReceived, only against an approved order and never more than
// ordered), which record the stock movements in through package inventory
// in the same transaction.
package procurement
