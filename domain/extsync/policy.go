package extsync

import (
	"fmt"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
)

// HostPolicy decides which addresses a sync may reach: the guard against
// server-side request forgery through a tenant's base_url, a redirect or a
// "next" link. It is built once from NOTIFYHUB_SYNC_ALLOW_HOSTS.
//
//   - Never reachable, whatever the list says: link-local addresses
//     (169.254.0.0/16, fe80::/10, where cloud metadata services live),
//     unspecified, multicast and broadcast addresses, and well-known
//     metadata host names.
//   - No list (the default): public addresses only. Loopback, private
//     (10/8, 172.16/12, 192.168/16, fc00::/7), shared (100.64/10) and
//     reserved ranges are refused.
//   - A list: only hosts it names are reachable, and those may be loopback
//     or private. Entries are host names (api.example.com), wildcard
//     suffixes (*.example.com), IP addresses (127.0.0.1) or CIDR ranges
//     (10.20.0.0/16). The entry "public" adds every public address.
//
// The check runs on the URL when a configuration is saved and again on
// every address actually dialled (after DNS resolution), so a name that
// resolves to a forbidden address is refused too.
type HostPolicy struct {
	names    map[string]bool
	suffixes []string // ".example.com" for *.example.com
	prefixes []netip.Prefix
	public   bool
}

var hostNamePattern = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?)*$`)

// metadataHosts are names of cloud metadata services.
var metadataHosts = map[string]bool{
	"metadata.google.internal": true, "metadata.goog": true, "metadata": true,
	"instance-data": true, "instance-data.ec2.internal": true,
}

// ParseHostPolicy builds the policy from the allow-list entries (empty:
// public addresses only).
func ParseHostPolicy(entries []string) (HostPolicy, error) {
	p := HostPolicy{names: map[string]bool{}}
	if len(entries) == 0 {
		p.public = true
		return p, nil
	}
	for _, raw := range entries {
		e := strings.ToLower(strings.TrimSpace(raw))
		switch {
		case e == "":
			continue
		case e == "public":
			p.public = true
		case strings.Contains(e, "/"):
			pfx, err := netip.ParsePrefix(e)
			if err != nil {
				return HostPolicy{}, fmt.Errorf("sync allow-list: %q is not a CIDR range like 10.0.0.0/8", raw)
			}
			p.prefixes = append(p.prefixes, pfx.Masked())
		default:
			if ip, err := netip.ParseAddr(strings.Trim(e, "[]")); err == nil {
				p.prefixes = append(p.prefixes, netip.PrefixFrom(ip.Unmap(), ip.Unmap().BitLen()))
				continue
			}
			if rest, ok := strings.CutPrefix(e, "*."); ok {
				if !hostNamePattern.MatchString(rest) {
					return HostPolicy{}, fmt.Errorf("sync allow-list: %q is not a host pattern like *.example.com", raw)
				}
				p.suffixes = append(p.suffixes, "."+rest)
				continue
			}
			if !hostNamePattern.MatchString(e) {
				return HostPolicy{}, fmt.Errorf("sync allow-list: %q is not a host name, IP address, CIDR range or \"public\"", raw)
			}
			p.names[e] = true
		}
	}
	return p, nil
}

// listed reports whether the allow-list names host (a name) or ip.
func (p HostPolicy) listed(host string, ip netip.Addr) bool {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if p.names[host] {
		return true
	}
	for _, s := range p.suffixes {
		if strings.HasSuffix(host, s) {
			return true
		}
	}
	if ip.IsValid() {
		for _, pfx := range p.prefixes {
			if pfx.Contains(ip) {
				return true
			}
		}
	}
	return false
}

// CheckAddr decides whether a connection to ip, resolved from host (a name
// or the same IP), is allowed. The error says why not.
func (p HostPolicy) CheckAddr(host string, ip netip.Addr) error {
	ip = ip.Unmap()
	if v4, ok := nat64(ip); ok {
		ip = v4 // an IPv4 address in IPv6 clothing is judged as IPv4
	}
	if kind := neverKind(ip); kind != "" {
		return fmt.Errorf("address %s of %s is %s: never reachable by a sync", ip, host, kind)
	}
	if p.listed(host, ip) {
		return nil
	}
	if kind := internalKind(ip); kind != "" {
		return fmt.Errorf("address %s of %s is %s: allowed only when NOTIFYHUB_SYNC_ALLOW_HOSTS lists it", ip, host, kind)
	}
	if !p.public {
		return fmt.Errorf("host %s is not in NOTIFYHUB_SYNC_ALLOW_HOSTS", host)
	}
	return nil
}

// CheckURL checks a URL before any request: http or https, a host, no
// credentials, and a host the policy does not refuse outright. Names are
// checked again, with their addresses, when dialled.
func (p HostPolicy) CheckURL(u *url.URL) error {
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("must be an http or https URL")
	}
	host := strings.ToLower(u.Hostname())
	if host == "" {
		return fmt.Errorf("must name a host")
	}
	if u.User != nil {
		return fmt.Errorf("must not carry credentials (use auth_header)")
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		return p.CheckAddr(host, ip)
	}
	host = strings.TrimSuffix(host, ".")
	if !hostNamePattern.MatchString(host) {
		return fmt.Errorf("host %q is not a valid host name", u.Hostname())
	}
	if metadataHosts[host] {
		return fmt.Errorf("host %s is a cloud metadata service: never reachable by a sync", host)
	}
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		if !p.listed(host, netip.Addr{}) && !p.listed("", netip.MustParseAddr("127.0.0.1")) {
			return fmt.Errorf("host %s is loopback: allowed only when NOTIFYHUB_SYNC_ALLOW_HOSTS lists it", host)
		}
		return nil
	}
	if !p.public && !p.listed(host, netip.Addr{}) && len(p.prefixes) == 0 {
		return fmt.Errorf("host %s is not in NOTIFYHUB_SYNC_ALLOW_HOSTS", host)
	}
	return nil
}

var (
	linkLocal4 = netip.MustParsePrefix("169.254.0.0/16")
	thisNet4   = netip.MustParsePrefix("0.0.0.0/8")
	broadcast4 = netip.MustParseAddr("255.255.255.255")
	nat64WKP   = netip.MustParsePrefix("64:ff9b::/96")
	// Ranges that are neither public nor named by IsPrivate/IsLoopback.
	internal = []netip.Prefix{
		netip.MustParsePrefix("100.64.0.0/10"),   // shared address space (carrier NAT)
		netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
		netip.MustParsePrefix("192.0.2.0/24"),    // documentation
		netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
		netip.MustParsePrefix("198.51.100.0/24"), // documentation
		netip.MustParsePrefix("203.0.113.0/24"),  // documentation
		netip.MustParsePrefix("240.0.0.0/4"),     // reserved
		netip.MustParsePrefix("2001:db8::/32"),   // documentation
	}
)

// neverKind names why ip is never reachable, or "".
func neverKind(ip netip.Addr) string {
	switch {
	case !ip.IsValid():
		return "invalid"
	case ip.IsUnspecified() || thisNet4.Contains(ip):
		return "unspecified"
	case ip.IsLinkLocalUnicast() || linkLocal4.Contains(ip):
		return "link-local (cloud metadata)"
	case ip.IsMulticast() || ip.IsLinkLocalMulticast() || ip.IsInterfaceLocalMulticast() || ip == broadcast4:
		return "multicast or broadcast"
	}
	return ""
}

// internalKind names why ip is not a public address, or "".
func internalKind(ip netip.Addr) string {
	switch {
	case ip.IsLoopback():
		return "loopback"
	case ip.IsPrivate():
		return "private"
	}
	for _, p := range internal {
		if p.Contains(ip) {
			return "reserved"
		}
	}
	if !ip.IsGlobalUnicast() {
		return "not a public unicast address"
	}
	return ""
}

// nat64 extracts the IPv4 address of a NAT64 address (64:ff9b::a.b.c.d).
func nat64(ip netip.Addr) (netip.Addr, bool) {
	if !ip.Is6() || !nat64WKP.Contains(ip) {
		return ip, false
	}
	b := ip.As16()
	return netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]}), true
}
