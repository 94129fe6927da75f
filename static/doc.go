// Package static embeds the stylesheet and scripts of the notification
// center (center.js) and the operations dashboard (dashboard.js) and
// serves them under fingerprinted URLs (name.<hash>.ext) with a year-long,
// immutable cache, so a new build is picked up at once and an old one is
// never fetched twice. It owns the files and their URLs; the pages that link
// them live in web/view.
package static
