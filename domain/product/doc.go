// Package product owns the product catalogue: create, update with change
// tracking and delete, each writing its event (ProductCreated,
// ProductUpdated, ProductDeleted) in the same transaction as the change.
// Stock levels belong to package inventory.
package product
