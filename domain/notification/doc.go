// Package notification owns users' inboxes: it persists notifications (first)
// and hands each committed change to the fan-out (second), lists them, counts
// unread ones and marks them read or unread. It never talks to sockets: the
// hub does, from what the fan-out delivers.
package notification
