// Package demo seeds the demo tenant "acme" (users with their permissions,
// locations, products, opening stock) and keeps realistic stock traffic
// flowing through the real domain services, so `notifyhub serve --demo`
// shows the notification center come alive. Everything it creates is real
// data in the configured store, made by the same commands an ERP would call.
package demo
