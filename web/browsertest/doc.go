// Package browsertest starts a headless Chromium for tests (Debian's
// chromium, through chromedp), with the flags this closed network needs
// and a profile of its own. It is imported by tests only.
package browsertest
