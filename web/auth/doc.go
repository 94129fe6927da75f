// Package auth issues and verifies the HS256 JSON Web Tokens that identify a
// user of a tenant (DESIGN.md §4.2). It owns the claim set and its checks; it
// does not read requests, cookies or the database: package web does.
package auth
