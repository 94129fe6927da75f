package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"time"
)

// errNotLoopback refuses a target that is not this machine.
var errNotLoopback = errors.New("loadgen only targets loopback addresses (127.0.0.0/8, ::1, localhost)")

// target is the server, pinned to a loopback address.
type target struct {
	base string // http://IP:port, no trailing slash
	host string // IP:port, the WebSocket is at /ws
	port int
}

// resolveTarget parses raw, resolves its host and accepts it only when
// every address is loopback. The result uses the IP literal, so a later
// lookup cannot point the run elsewhere.
func resolveTarget(ctx context.Context, raw string) (target, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return target{}, fmt.Errorf("--url: %w", err)
	}
	if u.Scheme != "http" {
		return target{}, fmt.Errorf("--url %q: scheme must be http", raw)
	}
	if u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return target{}, fmt.Errorf("--url %q: give only scheme, host and port", raw)
	}
	host, portStr := u.Hostname(), u.Port()
	if portStr == "" {
		portStr = "80"
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 1 || port > 65535 {
		return target{}, fmt.Errorf("--url %q: bad port", raw)
	}
	addr, err := loopbackAddr(ctx, host)
	if err != nil {
		return target{}, fmt.Errorf("--url %q: %w", raw, err)
	}
	hp := net.JoinHostPort(addr.String(), strconv.Itoa(port))
	return target{base: "http://" + hp, host: hp, port: port}, nil
}

func loopbackAddr(ctx context.Context, host string) (netip.Addr, error) {
	if host == "" {
		return netip.Addr{}, errNotLoopback
	}
	if a, err := netip.ParseAddr(host); err == nil {
		if !a.Unmap().IsLoopback() {
			return netip.Addr{}, fmt.Errorf("%s: %w", host, errNotLoopback)
		}
		return a.Unmap(), nil
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("resolve %s: %w", host, err)
	}
	if len(addrs) == 0 {
		return netip.Addr{}, fmt.Errorf("%s: no address: %w", host, errNotLoopback)
	}
	for _, a := range addrs {
		if !a.Unmap().IsLoopback() {
			return netip.Addr{}, fmt.Errorf("%s resolves to %s: %w", host, a, errNotLoopback)
		}
	}
	return addrs[0].Unmap(), nil
}
