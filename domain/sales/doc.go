// Package sales owns sales orders: created pending with their lines,
// approved (only when pending), fulfilled (only when approved). Each
// command writes its event (OrderCreated, OrderApproved, OrderFulfilled) in
// the same transaction as the change.
package sales
