package hub

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Defaults applied by New to zero fields of Config.
const (
	DefaultQueueSize      = 256
	DefaultWriteTimeout   = 5 * time.Second
	DefaultReadLimit      = 4 << 10
	DefaultCatchupBatch   = 500
	DefaultPingInterval   = 30 * time.Second
	DefaultHistoryTimeout = 10 * time.Second

	DefaultMaxConcurrentRefills = 16
	DefaultResyncJitter         = 2 * time.Second
	DefaultUnreadCountDebounce  = 200 * time.Millisecond
	DefaultReadRaceWindow       = 5 * time.Second
)

// minReadLimit leaves room for a small JSON control message such as
// {"type":"ping"}; anything smaller is a configuration mistake.
const minReadLimit = 64

// Config tunes a Hub. The zero value is usable: New fills in the defaults.
type Config struct {
	// AllowedOrigins lists host patterns (host or host:port, `*` matches
	// any run of characters, case-insensitive) whose browser pages may
	// open a socket, e.g. "app.example.com", "*.example.com",
	// "localhost:*". The serving host itself (r.Host) is always allowed,
	// and so are requests without an Origin header (non-browser clients).
	AllowedOrigins []string
	// QueueSize bounds the frames waiting for one connection; a connection
	// whose queue is full is closed with 4008. Default 256.
	QueueSize int
	// WriteTimeout bounds every write to a socket (one batch of frames): a
	// socket that takes longer is closed. A write may be given up to half
	// of it less (the deadline set for an earlier write is kept when it
	// leaves that much). Default 5s.
	WriteTimeout time.Duration
	// ReadLimit is the largest inbound message accepted; a larger one
	// closes the connection with 1009. Default 4 KiB.
	ReadLimit int64
	// CatchupBatch is the page size of catch-up reads. Default 500.
	CatchupBatch int
	// PingInterval is how often the server pings each client to detect
	// dead peers. Default 30s; negative disables pings.
	PingInterval time.Duration
	// HistoryTimeout bounds each History call. Default 10s.
	HistoryTimeout time.Duration
	// MaxConcurrentRefills bounds how many History reads this node's
	// connections make at once: catch-up on connect (and resolving
	// ?since=), gap refills, resync refills and unread-count refreshes
	// all take one of these slots per query, in arrival order, and give it
	// back before writing to the socket. A connection holds at most one
	// slot and never waits for a second one while holding it, so the
	// limit cannot deadlock; waiting is first come, first served, so a
	// new connection's catch-up queues behind a resync burst rather than
	// starving. Default 16.
	MaxConcurrentRefills int
	// ResyncJitter spreads the refills of a Resync: each connection waits
	// a random delay in [0, ResyncJitter) before taking a slot, still
	// sending live updates meanwhile. Default 2s; negative refills at once
	// (still under MaxConcurrentRefills).
	ResyncJitter time.Duration
	// UnreadCountDebounce is how long after a read, unread or read_all
	// update a connection waits before asking History for the unread
	// count; every change arriving meanwhile shares that one query.
	// Default 200ms; negative asks at the next free slot.
	UnreadCountDebounce time.Duration
	// ReadRaceWindow is how long after a read, unread or read_all update
	// a connection distrusts the unread count carried by notification
	// updates (computed in a transaction that may have raced with the
	// read, and possibly delivered behind it) and sends History's count
	// instead. Default 5s; negative always trusts them.
	ReadRaceWindow time.Duration
	// Logger receives connection-level logs. Default: discarded.
	Logger *slog.Logger
	// Registerer receives the hub's metrics. Default: not registered.
	Registerer prometheus.Registerer
}

func (c *Config) applyDefaults() {
	if c.QueueSize == 0 {
		c.QueueSize = DefaultQueueSize
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = DefaultWriteTimeout
	}
	if c.ReadLimit == 0 {
		c.ReadLimit = DefaultReadLimit
	}
	if c.CatchupBatch == 0 {
		c.CatchupBatch = DefaultCatchupBatch
	}
	if c.PingInterval == 0 {
		c.PingInterval = DefaultPingInterval
	}
	if c.HistoryTimeout == 0 {
		c.HistoryTimeout = DefaultHistoryTimeout
	}
	if c.MaxConcurrentRefills == 0 {
		c.MaxConcurrentRefills = DefaultMaxConcurrentRefills
	}
	if c.ResyncJitter == 0 {
		c.ResyncJitter = DefaultResyncJitter
	}
	if c.UnreadCountDebounce == 0 {
		c.UnreadCountDebounce = DefaultUnreadCountDebounce
	}
	if c.ReadRaceWindow == 0 {
		c.ReadRaceWindow = DefaultReadRaceWindow
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Validate reports every invalid field. Zero values are valid: they stand
// for the defaults.
func (c Config) Validate() error {
	var errs []error
	for _, p := range c.AllowedOrigins {
		if err := validOriginPattern(p); err != nil {
			errs = append(errs, err)
		}
	}
	if c.QueueSize < 0 {
		errs = append(errs, fmt.Errorf("queue size %d: must be positive", c.QueueSize))
	}
	if c.WriteTimeout < 0 {
		errs = append(errs, fmt.Errorf("write timeout %s: must be positive", c.WriteTimeout))
	}
	if c.ReadLimit < 0 || (c.ReadLimit > 0 && c.ReadLimit < minReadLimit) {
		errs = append(errs, fmt.Errorf("read limit %d: must be at least %d bytes", c.ReadLimit, minReadLimit))
	}
	if c.CatchupBatch < 0 {
		errs = append(errs, fmt.Errorf("catch-up batch %d: must be positive", c.CatchupBatch))
	}
	if c.HistoryTimeout < 0 {
		errs = append(errs, fmt.Errorf("history timeout %s: must be positive", c.HistoryTimeout))
	}
	if c.MaxConcurrentRefills < 0 {
		errs = append(errs, fmt.Errorf("max concurrent refills %d: must be positive", c.MaxConcurrentRefills))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("hub config: %w", err)
	}
	return nil
}

// validOriginPattern accepts host[:port] patterns only: a scheme or path in
// the allow-list is a configuration mistake that would never match.
func validOriginPattern(p string) error {
	switch {
	case p == "":
		return errors.New("allowed origin: empty pattern")
	case strings.ContainsAny(p, "/ \t\r\n"):
		return fmt.Errorf("allowed origin %q: must be a host pattern such as app.example.com or *.example.com, without scheme or path", p)
	}
	return nil
}
