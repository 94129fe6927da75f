package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// pace calls send(n) for n = 0, 1, ... until count or window is reached,
// either at rate per second (spread over senders goroutines) or, with rate
// 0, as fast as senders goroutines go. It returns how far the sends fell
// behind the schedule at worst. send returns false to stop the phase.
func pace(ctx context.Context, rate float64, count int, window time.Duration, senders int, send func(ctx context.Context, n int) bool) time.Duration {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	start := time.Now()
	deadline := start.Add(window)
	var wg sync.WaitGroup
	if rate <= 0 {
		var next atomic.Int64
		for range senders {
			wg.Go(func() {
				for ctx.Err() == nil && time.Now().Before(deadline) {
					n := int(next.Add(1) - 1)
					if n >= count {
						return
					}
					if !send(ctx, n) {
						cancel()
						return
					}
				}
			})
		}
		wg.Wait()
		return 0
	}
	jobs := make(chan int, senders)
	for range senders {
		wg.Go(func() {
			for n := range jobs {
				if ctx.Err() == nil && !send(ctx, n) {
					cancel()
				}
			}
		})
	}
	var lag time.Duration
	interval := float64(time.Second) / rate
	for n := 0; n < count; n++ {
		due := start.Add(time.Duration(float64(n) * interval))
		if !due.Before(deadline) {
			break
		}
		if d := time.Until(due); d > time.Millisecond {
			select {
			case <-ctx.Done():
			case <-time.After(d):
			}
		}
		if ctx.Err() != nil {
			break
		}
		select {
		case jobs <- n:
		case <-ctx.Done():
		}
		lag = max(lag, time.Since(due))
	}
	close(jobs)
	wg.Wait()
	return lag
}

// sendOutcome counts what happened to a phase's sends.
type sendOutcome struct {
	expected atomic.Int64
	errors   atomic.Int64
	missing  atomic.Bool // the endpoint answered 404/405
	mu       sync.Mutex
	firstErr string
}

func (o *sendOutcome) fail(format string, args ...any) {
	o.errors.Add(1)
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.firstErr == "" {
		o.firstErr = fmt.Sprintf(format, args...)
	}
}

// notify drives POST /api/v1/notifications: to one user per message
// (personal) or to a whole tenant (broadcast, "all": true), at rate (per
// second; deliveries per second for broadcasts) or, with rate 0, as fast as
// the senders go.
func (g *gen) notify(ctx context.Context, r *PhaseResult, broadcast bool, rate float64) {
	phase := phaseIndex(r.Name)
	var targets []int // personal: client indices; broadcast: tenant indices
	if broadcast {
		for _, t := range g.tenants {
			if len(t.clients) > 0 {
				targets = append(targets, t.idx)
			}
		}
	} else {
		// Interleaved, so consecutive messages go to different tenants.
		targets = interleave(g.tenants)
	}
	if len(targets) == 0 {
		r.Skipped = "no connected recipients"
		return
	}
	msgRate := rate
	if broadcast && rate > 0 {
		msgRate = rate / (float64(countConnected(g.tenants)) / float64(len(targets)))
	}
	count := g.cfg.MaxMessages
	if msgRate > 0 {
		count = min(count, int(math.Ceil(msgRate*g.cfg.Duration.Seconds())))
	}
	l := newLedger(count)
	if broadcast {
		l.member = func(n, c int) bool { return g.clients[c].tenant == int(l.target[n]) }
		l.recipients = func(n int) int { return len(g.tenants[l.target[n]].clients) }
	} else {
		l.member = func(n, c int) bool { return c == int(l.target[n]) }
		l.recipients = func(int) int { return 1 }
	}
	var out sendOutcome
	typ := "alert"
	if broadcast {
		typ = "announcement"
	}
	senders := g.cfg.Senders
	if !broadcast {
		senders = g.cfg.personalSenders()
	}
	// Sends go out on the senders' own connections (poster). For personal
	// sends, one request per message, net/http's Transport cost the load
	// generator about as much CPU as the server spent on the request; for
	// broadcasts its hand-offs to a writer and a reader goroutine were
	// inside the measured latency, each a wake-up of an idle core between
	// broadcasts.
	ps := newPosters(g.target, senders)
	defer ps.closeAll()
	r.SendLag = pace(ctx, msgRate, count, g.cfg.Duration, senders, func(ctx context.Context, n int) bool {
		tgt := targets[n%len(targets)]
		l.target[n] = int32(tgt)
		body := notifyBody{Type: typ, Severity: "info", Title: "loadgen " + r.Name + " #" + strconv.Itoa(n)}
		var tok string
		var recipients int
		if broadcast {
			body.All = true
			tok, recipients = g.tenants[tgt].admin, len(g.tenants[tgt].clients)
		} else {
			c := g.clients[tgt]
			body.UserIDs = []string{c.user}
			tok, recipients = g.tenants[c.tenant].admin, 1
		}
		sent := time.Now().UnixNano()
		body.Data = notifyData{Run: g.run, Phase: phase, N: n, T: sent}
		l.sent[n] = sent
		var (
			status int
			resp   []byte
			err    error
		)
		status, resp, err = ps.post(ctx, tok, "/api/v1/notifications", body.appendJSON(nil))
		switch {
		case err != nil:
			l.sent[n] = 0
			if ctx.Err() == nil {
				out.fail("POST /api/v1/notifications: %v", err)
			}
			return true
		case status == http.StatusNotFound || status == http.StatusMethodNotAllowed:
			l.sent[n] = 0
			out.missing.Store(true)
			return false
		case status != http.StatusAccepted:
			l.sent[n] = 0
			out.fail("POST /api/v1/notifications: status %d: %s", status, resp)
			return true
		}
		out.expected.Add(int64(recipients))
		return true
	})
	if out.missing.Load() {
		r.Skipped = "POST /api/v1/notifications is not available on this server (404/405)"
		return
	}
	g.drain(ctx, phase, out.expected.Load())
	g.account(l, phase, r)
	r.SendErrors = int(out.errors.Load())
	if out.firstErr != "" {
		r.note("%d sends failed; first: %s", r.SendErrors, out.firstErr)
	}
}

// notifyBody is the body of the personal and broadcast sends (a struct:
// encoding a map per message was a fifth of the sender's CPU).
type notifyBody struct {
	Type     string     `json:"type"`
	Severity string     `json:"severity"`
	Title    string     `json:"title"`
	All      bool       `json:"all,omitempty"`
	UserIDs  []string   `json:"user_ids,omitempty"`
	Data     notifyData `json:"data"`
}

// notifyData is the marker a notification carries back to the client.
type notifyData struct {
	Run   string `json:"lg"`
	Phase int8   `json:"p"`
	N     int    `json:"n"`
	T     int64  `json:"t"`
}

// interleave lists connected clients taking one of each tenant in turn.
func interleave(ts []*tenant) []int {
	var out []int
	for i := 0; ; i++ {
		added := false
		for _, t := range ts {
			if i < len(t.clients) {
				out = append(out, t.clients[i])
				added = true
			}
		}
		if !added {
			return out
		}
	}
}

func countConnected(ts []*tenant) int {
	n := 0
	for _, t := range ts {
		n += len(t.clients)
	}
	return n
}

// Business phase: products that sit above their reorder level; each command
// is a stock movement that takes one below it, which must reach every
// connected inventory.alerts holder of the tenant as a LowStockNotification
// (exactly once: one crossing, one notification per recipient).
const (
	businessReorder = 10
	businessStock   = 20
	businessTake    = -15
)

func (g *gen) business(ctx context.Context, r *PhaseResult) {
	phase := phaseIndex(phaseBusiness)
	var ts []*tenant
	for _, t := range g.tenants {
		if len(t.alerts) > 0 {
			ts = append(ts, t)
		}
	}
	if len(ts) == 0 {
		r.Skipped = "no connected client holds inventory.alerts (--alert-users)"
		return
	}
	count := min(g.cfg.MaxMessages, int(math.Ceil(g.cfg.BusinessRate*g.cfg.Duration.Seconds())))
	// Commands go out on the senders' own connections (poster), as the
	// personal sends do: net/http's Transport would cost the load
	// generator as much CPU per command as a good part of the server's.
	ps := newPosters(g.target, g.cfg.Senders)
	defer ps.closeAll()
	// Setup, not measured as part of the phase's figures (its time,
	// CPU and the machine's are counted from the end of the warm-up):
	// one product per command and one warm-up product per tenant, each
	// stocked above its reorder level.
	setupStart := time.Now()
	products := make([]string, count+len(ts))
	var setupErr atomic.Pointer[error]
	pace(ctx, 0, len(products), g.cfg.MaxDuration, g.cfg.Senders, func(ctx context.Context, i int) bool {
		t := ts[i%len(ts)]
		id, err := g.stockedProduct(ctx, ps, t, fmt.Sprintf("LG-%s-%d", g.run, i))
		if err != nil {
			setupErr.CompareAndSwap(nil, &err)
			return false
		}
		products[i] = id
		return true
	})
	if err := setupErr.Load(); err != nil {
		r.Skipped = fmt.Sprintf("setup failed: %v", *err)
		return
	}
	if ctx.Err() != nil {
		r.Skipped = "run stopped during setup"
		return
	}
	index := make(map[string]receipt, len(products))
	for i, id := range products[:count] {
		index[id] = receipt{phase: phase, n: int32(i)}
	}
	for i, id := range products[count:] {
		index[id] = receipt{phase: warmupPhase, n: int32(i)}
	}
	g.products.Store(&index)
	r.note("setup: %d products stocked in %s", len(products), time.Since(setupStart).Round(time.Millisecond))

	// Warm-up: one crossing per tenant, waited for, so that the measured
	// commands do not queue behind the setup's own events.
	var warmExpected int64
	for i, id := range products[count:] {
		t := ts[(count+i)%len(ts)] // the tenant it was created in
		status, resp, err := ps.postJSON(ctx, t.admin, "/api/v1/stock-movements", map[string]any{
			"product_id": id, "quantity": businessTake, "reason": "loadgen warm-up"})
		if err != nil || status != http.StatusCreated {
			r.Skipped = fmt.Sprintf("warm-up movement: status %d %s %v", status, resp, err)
			return
		}
		warmExpected += int64(len(t.alerts))
	}
	g.drain(ctx, warmupPhase, warmExpected)
	if got := g.received[warmupPhase].Load(); got < warmExpected {
		r.note("warm-up: only %d of %d LowStockNotifications arrived within --drain", got, warmExpected)
	}

	// The phase's figures are the measured commands', not the setup's.
	r.restartMeter()
	l := newLedger(count)
	l.member = func(n, c int) bool {
		cl := g.clients[c]
		return cl.tenant == int(l.target[n]) && cl.alerts
	}
	l.recipients = func(n int) int { return len(g.tenants[l.target[n]].alerts) }
	var out sendOutcome
	r.SendLag = pace(ctx, g.cfg.BusinessRate, count, g.cfg.Duration, g.cfg.Senders, func(ctx context.Context, n int) bool {
		t := ts[n%len(ts)]
		l.target[n] = int32(t.idx)
		l.sent[n] = time.Now().UnixNano()
		status, resp, err := ps.postJSON(ctx, t.admin, "/api/v1/stock-movements", map[string]any{
			"product_id": products[n], "quantity": businessTake, "reason": "loadgen"})
		switch {
		case err != nil:
			l.sent[n] = 0
			if ctx.Err() == nil {
				out.fail("POST /api/v1/stock-movements: %v", err)
			}
		case status != http.StatusCreated:
			l.sent[n] = 0
			out.fail("POST /api/v1/stock-movements: status %d: %s", status, resp)
		default:
			out.expected.Add(int64(len(t.alerts)))
		}
		return true
	})
	g.drain(ctx, phase, out.expected.Load())
	g.account(l, phase, r)
	r.SendErrors = int(out.errors.Load())
	if out.firstErr != "" {
		r.note("%d commands failed; first: %s", r.SendErrors, out.firstErr)
	}
}

// stockedProduct creates a product of tenant t and stocks it above its
// reorder level.
func (g *gen) stockedProduct(ctx context.Context, ps posters, t *tenant, sku string) (string, error) {
	status, resp, err := ps.postJSON(ctx, t.admin, "/api/v1/products", map[string]any{
		"sku": sku, "name": "Load " + sku, "price": "1.00", "reorder_level": businessReorder})
	if err != nil {
		return "", err
	}
	if status != http.StatusCreated {
		return "", fmt.Errorf("POST /api/v1/products: status %d: %s", status, resp)
	}
	var p struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(resp, &p); err != nil || p.ID == "" {
		return "", fmt.Errorf("POST /api/v1/products: no id in %s", resp)
	}
	status, resp, err = ps.postJSON(ctx, t.admin, "/api/v1/stock-movements", map[string]any{
		"product_id": p.ID, "quantity": businessStock, "reason": "loadgen setup"})
	if err != nil {
		return "", err
	}
	if status != http.StatusCreated {
		return "", fmt.Errorf("POST /api/v1/stock-movements: status %d: %s", status, resp)
	}
	return p.ID, nil
}
