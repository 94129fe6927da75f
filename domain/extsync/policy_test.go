package extsync_test

import (
	"net/netip"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain/extsync"
)

func TestHostPolicyDefaultAllowsOnlyPublicAddresses(t *testing.T) {
	t.Parallel()
	p, err := extsync.ParseHostPolicy(nil)
	require.NoError(t, err)
	for _, ok := range []string{"93.184.215.14", "2606:4700::1111", "8.8.8.8"} {
		require.NoError(t, p.CheckAddr("erp.example.com", netip.MustParseAddr(ok)), ok)
	}
	for addr, why := range map[string]string{
		"127.0.0.1":              "loopback",
		"::1":                    "loopback",
		"10.1.2.3":               "private",
		"192.168.0.10":           "private",
		"172.20.0.1":             "private",
		"fd00::1":                "private",
		"100.64.0.1":             "reserved",
		"169.254.169.254":        "link-local",
		"::ffff:169.254.169.254": "link-local",
		"64:ff9b::a9fe:a9fe":     "link-local", // NAT64 of 169.254.169.254
		"fe80::1":                "link-local",
		"0.0.0.0":                "unspecified",
		"::":                     "unspecified",
		"224.0.0.1":              "multicast",
		"255.255.255.255":        "broadcast",
	} {
		err := p.CheckAddr("erp.example.com", netip.MustParseAddr(addr))
		require.Error(t, err, addr)
		require.Contains(t, err.Error(), why, addr)
	}
	for raw, want := range map[string]string{
		"ftp://erp.example.com/":           "http or https",
		"http:///path":                     "must name a host",
		"https://user:pw@erp.example.com/": "credentials",
		"http://localhost:8080/":           "loopback",
		"http://api.localhost/":            "loopback",
		"http://127.0.0.1:9/":              "loopback",
		"http://[::1]:9/":                  "loopback",
		"http://169.254.169.254/latest/":   "never reachable",
		"http://metadata.google.internal/": "metadata",
		"http://10.0.0.8/":                 "private",
		"http://under_score.example.com/":  "not a valid host name",
	} {
		u, err := url.Parse(raw)
		require.NoError(t, err)
		err = p.CheckURL(u)
		require.Error(t, err, raw)
		require.Contains(t, err.Error(), want, raw)
	}
	require.NoError(t, p.CheckURL(&url.URL{Scheme: "https", Host: "erp.example.com"}))
}

func TestHostPolicyAllowList(t *testing.T) {
	t.Parallel()
	p, err := extsync.ParseHostPolicy([]string{" 127.0.0.1 ", "erp.internal", "*.corp.example", "10.20.0.0/16", ""})
	require.NoError(t, err)
	allowed := map[string]string{
		"127.0.0.1":     "anything", // listed IP
		"10.20.3.4":     "anything", // listed range
		"10.99.0.1":     "erp.internal",
		"192.168.1.1":   "api.corp.example",
		"93.184.215.14": "erp.internal",
	}
	for ip, host := range allowed {
		require.NoError(t, p.CheckAddr(host, netip.MustParseAddr(ip)), "%s (%s)", ip, host)
	}
	// Only listed hosts: public addresses are not implied by a list.
	err = p.CheckAddr("erp.example.com", netip.MustParseAddr("93.184.215.14"))
	require.ErrorContains(t, err, "not in NOTIFYHUB_SYNC_ALLOW_HOSTS")
	require.ErrorContains(t, p.CheckAddr("x", netip.MustParseAddr("127.0.0.2")), "loopback")
	// Link-local stays refused even when a listed name resolves to it.
	require.ErrorContains(t, p.CheckAddr("erp.internal", netip.MustParseAddr("169.254.169.254")), "never reachable")
	require.NoError(t, p.CheckURL(&url.URL{Scheme: "http", Host: "localhost:8080"}), "127.0.0.1 is listed")

	pub, err := extsync.ParseHostPolicy([]string{"public", "127.0.0.1"})
	require.NoError(t, err)
	require.NoError(t, pub.CheckAddr("erp.example.com", netip.MustParseAddr("93.184.215.14")))
	require.ErrorContains(t, pub.CheckAddr("x", netip.MustParseAddr("10.0.0.1")), "private")

	for _, bad := range []string{"10.0.0.0/33", "*.", "*.bad_name", "exa mple.com", "http://x"} {
		_, err := extsync.ParseHostPolicy([]string{bad})
		require.Error(t, err, bad)
	}
}
