package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"sync"
	"time"
)

// client is one WebSocket of one (tenant, user).
type client struct {
	idx    int
	tenant int
	user   string
	alerts bool // holds inventory.alerts
	token  string

	ready   chan struct{} // closed at the first unread_count frame
	readyAt int64
	done    chan struct{} // closed when the read loop gave up
	lastID  string        // last notification id received (read loop only)

	mu         sync.Mutex
	fr         *frameReader // reads the socket, and closes it
	receipts   []receipt
	err        error
	reconnects int
}

// maxReconnects bounds how often one client reconnects in a run.
const maxReconnects = 20

var unreadPrefix = []byte(`{"type":"unread_count"`)

// wireFrame is the part of a server frame the load generator reads, data
// included: one pass over the frame (decoding data apart scanned it twice
// and copied it).
type wireFrame struct {
	Type         string `json:"type"`
	Notification *struct {
		ID   string `json:"id"`
		Type string `json:"type"`
		Data marker `json:"data"`
	} `json:"notification"`
}

// marker is the data of a load generator notification, or the fields of a
// LowStockNotification's data the business phase matches on.
type marker struct {
	Run       string `json:"lg"`
	Phase     int8   `json:"p"`
	N         int32  `json:"n"`
	ProductID string `json:"product_id"`
}

// dial connects c and starts its read loop; it returns once the socket is
// ready (catch-up done: the first unread_count frame arrived).
func (g *gen) dial(ctx context.Context, c *client) error {
	c.ready = make(chan struct{})
	c.done = make(chan struct{})
	fr, err := g.open(ctx, c, "")
	if err != nil {
		close(c.done)
		return err
	}
	c.mu.Lock()
	c.fr = fr
	c.mu.Unlock()
	go c.readLoop(g)
	select {
	case <-c.ready:
		return nil
	case <-c.done:
		return fmt.Errorf("%s/%s: socket ended before its unread_count: %w", g.tenantID(c.tenant), c.user, c.readErr())
	case <-ctx.Done():
		return ctx.Err()
	}
}

// open dials the socket of c, with ?since= when since is set.
func (g *gen) open(ctx context.Context, c *client, since string) (*frameReader, error) {
	path := "/ws"
	if since != "" {
		path += "?since=" + url.QueryEscape(since)
	}
	fr, err := dialSocket(ctx, &g.wsDialer, g.target.host, path, c.token, 1<<20)
	if err != nil {
		return nil, fmt.Errorf("dial %s/%s: %w", g.tenantID(c.tenant), c.user, err)
	}
	return fr, nil
}

// reconnect does what a browser does when its socket ends: reconnect with
// ?since= its last notification, so that the server sends what it
// missed. It gives up when the run is closing, after maxReconnects, or when
// the run's time is up.
func (c *client) reconnect(g *gen, cause error) bool {
	backoff := 100 * time.Millisecond
	for {
		c.mu.Lock()
		if g.closing.Load() || c.reconnects >= maxReconnects || g.ctx.Err() != nil {
			c.err = cause
			c.mu.Unlock()
			return false
		}
		c.reconnects++
		c.mu.Unlock()
		select {
		case <-g.ctx.Done():
			continue
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 2*time.Second)
		ctx, cancel := context.WithTimeout(g.ctx, 30*time.Second)
		fr, err := g.open(ctx, c, c.lastID)
		cancel()
		if err != nil {
			cause = err
			continue
		}
		c.mu.Lock()
		if g.closing.Load() {
			c.mu.Unlock()
			fr.close()
			continue
		}
		c.fr = fr
		c.mu.Unlock()
		return true
	}
}

// reader returns the client's frame reader (nil before its socket opened).
func (c *client) reader() *frameReader {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.fr
}

func (c *client) readLoop(g *gen) {
	defer close(c.done)
	var f wireFrame
	fr := c.reader()
	for {
		frame, err := fr.next()
		if err != nil {
			fr.close()
			if !c.reconnect(g, err) {
				return
			}
			fr = c.reader()
			continue
		}
		now := time.Now().UnixNano()
		if bytes.HasPrefix(frame, unreadPrefix) {
			if c.readyAt == 0 {
				c.readyAt = now
				close(c.ready)
			}
			continue
		}
		f = wireFrame{}
		ok, dataOK := decodeFrame(frame, &f)
		if !ok {
			continue
		}
		c.lastID = f.Notification.ID
		if !dataOK {
			continue
		}
		rc, ok := g.match(f.Notification.Type, &f.Notification.Data)
		if !ok {
			continue
		}
		rc.at = now
		c.mu.Lock()
		c.receipts = append(c.receipts, rc)
		c.mu.Unlock()
		g.phaseReceived(rc.phase)
	}
}

func (c *client) readErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// takeReceipts returns a copy of the receipts so far.
func (c *client) takeReceipts() []receipt {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]receipt(nil), c.receipts...)
}

// closed reports whether the socket has ended (and why).
func (c *client) closed() (bool, error) {
	select {
	case <-c.done:
		return true, c.readErr()
	default:
		return false, nil
	}
}

// decodeFrame decodes a server frame into f. ok says it is a notification
// frame (f.Notification.ID is its id); dataOK that its data also decoded as
// a marker. A frame that does not decode in one pass is decoded again as
// before the one pass, data apart, so that a data of other types than a
// marker's still counts the frame's id for ?since=.
func decodeFrame(frame []byte, f *wireFrame) (ok, dataOK bool) {
	if ok, dataOK, handled := decodeFrameFast(frame, f); handled {
		return ok, dataOK
	}
	return decodeFrameJSON(frame, f)
}

// decodeFrameJSON is decodeFrame through encoding/json.
func decodeFrameJSON(frame []byte, f *wireFrame) (ok, dataOK bool) {
	if err := json.Unmarshal(frame, f); err == nil {
		return f.Type == "notification" && f.Notification != nil, true
	}
	var raw struct {
		Type         string `json:"type"`
		Notification *struct {
			ID   string          `json:"id"`
			Type string          `json:"type"`
			Data json.RawMessage `json:"data"`
		} `json:"notification"`
	}
	*f = wireFrame{}
	if json.Unmarshal(frame, &raw) != nil || raw.Type != "notification" || raw.Notification == nil {
		return false, false
	}
	f.Type = raw.Type
	f.Notification = &struct {
		ID   string `json:"id"`
		Type string `json:"type"`
		Data marker `json:"data"`
	}{ID: raw.Notification.ID, Type: raw.Notification.Type}
	return true, json.Unmarshal(raw.Notification.Data, &f.Notification.Data) == nil
}
