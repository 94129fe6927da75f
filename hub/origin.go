package hub

import (
	"net/http"
	"net/url"
	"strings"
)

// originAllowed reports whether the request may be upgraded as far as its
// Origin is concerned. Requests without Origin come from non-browser clients,
// which authenticate by token alone; browsers always send it on WebSocket
// handshakes, so a cross-site page cannot ride on a user's cookie.
func (h *Hub) originAllowed(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		// "null" (sandboxed iframes, file://) and garbage are refused.
		return false
	}
	if strings.EqualFold(u.Host, r.Host) {
		return true
	}
	for _, p := range h.cfg.AllowedOrigins {
		if matchHost(p, u.Host) {
			return true
		}
	}
	return false
}

// matchHost matches host against pattern case-insensitively, where `*`
// matches any run of characters (including none) and everything else is
// literal.
func matchHost(pattern, host string) bool {
	pattern, host = strings.ToLower(pattern), strings.ToLower(host)
	// Iterative glob with backtracking to the last star: linear in practice
	// and no recursion on hostile input.
	p, h := 0, 0
	star, mark := -1, 0
	for h < len(host) {
		switch {
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, h
			p++
		case p < len(pattern) && pattern[p] == host[h]:
			p++
			h++
		case star >= 0:
			p = star + 1
			mark++
			h = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}
