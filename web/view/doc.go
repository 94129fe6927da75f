// Package view renders the notification center, the operations dashboard and
// the login page with templ.
// Components take typed view models (this package's structs) and do no I/O:
// handlers in package web load the data and pass it in. User text is always
// escaped by templ; nothing here uses templ.Raw.
package view
