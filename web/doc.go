// Package web is the HTTP face of notifyhub: one chi router (New) with its
// middleware (request id, access log, recover, body limit, authentication,
// CSRF), the REST API of DESIGN.md §4.4 and §4.6, the WebSocket entry point,
// the login flow, the server-rendered notification center and the live
// operations dashboard (/dashboard).
//
// It owns request parsing, authentication and the mapping of domain errors
// to HTTP statuses. It holds no business rules (the domain services check
// permissions and validate) and no socket state (package hub does); the
// templates live in web/view, the token format in web/auth.
package web
