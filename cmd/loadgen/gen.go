package main

import (
	"bufio"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/procfs"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/web/auth"
)

// warmupPhase marks receipts of the business phase's warm-up commands.
const warmupPhase = int8(numPhases)

// gen is one run of the load generator.
type gen struct {
	ctx      context.Context // the run's: ends at --max-duration
	closing  atomic.Bool     // the run is closing its sockets: no reconnects
	cfg      Config
	log      io.Writer
	run      string // run id: namespaces tenants, SKUs and payloads
	target   target
	pid      int // server process, 0 when unknown
	secret   []byte
	api      *http.Client
	wsDialer net.Dialer // the clients' sockets

	clients []*client
	tenants []*tenant

	received [numPhases + 1]atomic.Int64 // receipts per phase, as they arrive
	products atomic.Pointer[map[string]receipt]
	sampler  *sampler
	proc     procfs.FS // the machine's /proc, for its CPU time (machineCPU)
}

type tenant struct {
	idx     int
	clients []int // connected clients
	alerts  []int // connected clients holding inventory.alerts
	admin   string
}

// Run connects the clients, runs the configured phases and returns the
// report. It stops at cfg.MaxDuration whatever is left, and closes every
// socket it opened.
func Run(ctx context.Context, cfg Config, log io.Writer) (*Report, error) {
	ctx, cancel := context.WithTimeout(ctx, cfg.MaxDuration)
	defer cancel()
	g := &gen{ctx: ctx, cfg: cfg, log: log, run: randomHex(4)}
	if cfg.Spawn != "" {
		srv, err := spawn(ctx, cfg, log)
		if err != nil {
			return nil, err
		}
		defer srv.stop(log)
		cfg.URL, cfg.Secret, cfg.PID = srv.url, srv.secret, srv.pid
		g.cfg = cfg
	}
	var err error
	if g.target, err = resolveTarget(ctx, cfg.URL); err != nil {
		return nil, err
	}
	g.secret = []byte(cfg.Secret)
	if err := auth.CheckSecret(g.secret); err != nil {
		return nil, fmt.Errorf("--secret: %w", err)
	}
	rep := newReport(g)
	g.pid = cfg.PID
	if g.pid == 0 {
		if g.pid, err = findListener(g.target.port); err != nil {
			rep.note("server process not found (%v): no server CPU or memory figures", err)
			g.pid = 0
		}
	}
	if g.pid != 0 {
		if _, err := readProc(g.pid); err != nil {
			rep.note("cannot read /proc/%d (%v): no server CPU or memory figures", g.pid, err)
			g.pid = 0
		} else {
			g.sampler = startSampler(g.pid, 100*time.Millisecond)
			defer g.sampler.close()
		}
	}
	rep.PID = g.pid
	if g.proc, err = procfs.NewDefaultFS(); err == nil {
		_, err = readMachineCPU(g.proc)
	}
	if err != nil {
		rep.note("cannot read the machine's CPU time (%v): no busy and steal figures", err)
	}
	g.api = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		MaxIdleConns: max(cfg.Senders, cfg.PersonalSenders) + 16, MaxIdleConnsPerHost: max(cfg.Senders, cfg.PersonalSenders) + 16,
		DisableCompression: true,
		DialContext:        (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
	}}
	g.wsDialer = net.Dialer{Timeout: 5 * time.Second}
	defer g.closeAll()
	if err := g.waitReady(ctx); err != nil {
		return rep, err
	}
	g.logf("run %s: %d clients in %d tenants against %s (server pid %d)", g.run, cfg.Clients, cfg.Tenants, g.target.base, g.pid)
	if err := g.makeClients(); err != nil {
		return rep, err
	}
	connect := g.measure(phaseConnect, func(r *PhaseResult) { g.connect(ctx, r) })
	rep.Phases = append(rep.Phases, connect)
	if connect.Received == 0 {
		return rep, errors.New("no client could connect")
	}
	for _, p := range allPhases[1:] {
		if !cfg.runs(p) {
			continue
		}
		if ctx.Err() != nil {
			rep.note("run stopped at --max-duration before phase %s", p)
			break
		}
		var res PhaseResult
		switch p {
		case phaseBusiness:
			res = g.measure(p, func(r *PhaseResult) { g.business(ctx, r) })
		case phasePersonal:
			res = g.measure(p, func(r *PhaseResult) { g.notify(ctx, r, false, cfg.PersonalRate) })
		case phasePersonalMax:
			res = g.measure(p, func(r *PhaseResult) { g.notify(ctx, r, false, 0) })
		case phaseBroadcast:
			res = g.measure(p, func(r *PhaseResult) { g.notify(ctx, r, true, cfg.BroadcastRate) })
		case phaseBroadcastMax:
			res = g.measure(p, func(r *PhaseResult) { g.notify(ctx, r, true, 0) })
		}
		rep.Phases = append(rep.Phases, res)
	}
	lostSockets, firstLoss, reconnects := 0, "", 0
	for _, c := range g.clients {
		c.mu.Lock()
		reconnects += c.reconnects
		c.mu.Unlock()
		if closed, err := c.closed(); closed && c.readyAt != 0 {
			if lostSockets++; firstLoss == "" {
				firstLoss = fmt.Sprintf("%s/%s: %v", g.tenantID(c.tenant), c.user, err)
			}
		}
	}
	rep.Reconnects = reconnects
	if reconnects > 0 {
		rep.note("clients reconnected %d times (with ?since=, as browsers do)", reconnects)
	}
	if lostSockets > 0 {
		rep.note("%d clients lost their socket for good during the run; first: %s", lostSockets, firstLoss)
	}
	if ctx.Err() != nil && errors.Is(context.Cause(ctx), context.DeadlineExceeded) {
		rep.note("the run reached --max-duration (%s)", cfg.MaxDuration)
	}
	return rep, nil
}

func (g *gen) logf(format string, args ...any) {
	if g.log != nil {
		fmt.Fprintf(g.log, "loadgen: "+format+"\n", args...)
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (g *gen) tenantID(i int) domain.TenantID {
	return domain.TenantID(fmt.Sprintf("lg-%s-t%d", g.run, i))
}

func (g *gen) token(tenant int, user string, perms ...string) (string, error) {
	return auth.Issue(g.secret, domain.User{TenantID: g.tenantID(tenant), ID: domain.UserID(user), Name: user,
		Perms: perms}, g.cfg.MaxDuration+time.Hour, time.Now())
}

// waitReady waits (bounded) until the server answers /readyz.
func (g *gen) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, g.target.base+"/readyz", nil)
		res, err := g.api.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, res.Body)
			_ = res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("server at %s not ready: %v", g.target.base, cmp.Or(err, ctx.Err()))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// makeClients assigns users to tenants (client i in tenant i mod T; the
// first --alert-users of each tenant hold inventory.alerts) and signs
// their tokens.
func (g *gen) makeClients() error {
	g.tenants = make([]*tenant, g.cfg.Tenants)
	for i := range g.tenants {
		admin, err := g.token(i, "lg-admin", "products.manage", "inventory.manage", "notifications.send")
		if err != nil {
			return err
		}
		g.tenants[i] = &tenant{idx: i, admin: admin}
	}
	g.clients = make([]*client, g.cfg.Clients)
	perTenant := make([]int, g.cfg.Tenants)
	for i := range g.clients {
		t := i % g.cfg.Tenants
		c := &client{idx: i, tenant: t, user: fmt.Sprintf("u%05d", i), alerts: perTenant[t] < g.cfg.AlertUsers}
		perTenant[t]++
		var perms []string
		if c.alerts {
			perms = []string{domain.PermInventoryAlerts}
		}
		var err error
		if c.token, err = g.token(t, c.user, perms...); err != nil {
			return err
		}
		g.clients[i] = c
	}
	return nil
}

func (g *gen) closeAll() {
	g.closing.Store(true)
	var wg sync.WaitGroup
	for _, c := range g.clients {
		if c == nil {
			continue
		}
		if fr := c.reader(); fr != nil {
			wg.Go(fr.close)
		}
	}
	wg.Wait()
}

// match turns a notification a client received into a receipt of this
// run, if it is one.
func (g *gen) match(typ string, m *marker) (receipt, bool) {
	if m.Run == g.run {
		if m.Phase < 0 || int(m.Phase) >= len(allPhases) {
			return receipt{}, false
		}
		return receipt{phase: m.Phase, n: m.N}, true
	}
	if typ == "LowStockNotification" && m.ProductID != "" {
		if idx := g.products.Load(); idx != nil {
			r, ok := (*idx)[m.ProductID]
			return r, ok
		}
	}
	return receipt{}, false
}

func (g *gen) phaseReceived(p int8) {
	if p >= 0 && int(p) < len(g.received) {
		g.received[p].Add(1)
	}
}

func phaseIndex(name string) int8 { return int8(slices.Index(allPhases[:], name)) }

// measure runs one phase and adds the server's, the load generator's and
// the machine's resource use during it: from its start, or from where the
// phase restarted the meter (r.restartMeter: the business phase does once
// its setup is done).
func (g *gen) measure(name string, fn func(*PhaseResult)) PhaseResult {
	r := PhaseResult{Name: name}
	m := g.startMeter()
	r.restartMeter = func() { m = g.startMeter() }
	g.logf("phase %s", name)
	fn(&r)
	r.restartMeter = nil
	r.Wall = time.Since(m.start)
	r.OwnCPU = selfCPU() - m.own
	if m.machineErr == nil {
		if now, err := readMachineCPU(g.proc); err == nil {
			r.MachineBusy, r.MachineSteal, r.MachineKnown = now.since(m.machine)
		}
	}
	if g.pid != 0 {
		if after, err := readProc(g.pid); err == nil {
			r.ServerCPU = after.cpu - m.server.cpu
			r.ServerRSSPeak = max(g.sampler.resetPeak(), after.rss)
			if r.Received > 0 && r.Name != phaseConnect {
				r.ServerCPUPer100k = r.ServerCPU.Seconds() / float64(r.Received) * 100_000
			}
		}
	}
	if r.Skipped == "" {
		g.logf("phase %s: sent %d, expected %d, received %d, lost %d, duplicated %d, %.0f/s",
			name, r.Sent, r.Expected, r.Received, r.Lost, r.Duplicated, r.Rate)
	} else {
		g.logf("phase %s skipped: %s", name, r.Skipped)
	}
	return r
}

// meter is where a phase's resource figures start from.
type meter struct {
	start      time.Time
	own        time.Duration // the load generator's CPU
	server     procSample
	machine    machineCPU
	machineErr error
}

func (g *gen) startMeter() meter {
	m := meter{own: selfCPU()}
	m.machine, m.machineErr = readMachineCPU(g.proc)
	if g.pid != 0 {
		m.server, _ = readProc(g.pid)
		g.sampler.resetPeak()
	}
	m.start = time.Now()
	return m
}

// connect opens every client's socket, --connect-concurrency at a time.
func (g *gen) connect(ctx context.Context, r *PhaseResult) {
	cs := &ConnectStats{}
	r.Connect = cs
	heapBefore := g.scrape()
	var rssBefore int64
	if g.pid != 0 {
		p, _ := readProc(g.pid)
		rssBefore = p.rss
	}
	idx := make(chan int)
	var (
		mu        sync.Mutex
		lat       []time.Duration
		failures  int
		firstErr  error
		lastReady int64
	)
	start := time.Now()
	var wg sync.WaitGroup
	for range min(g.cfg.ConnectConcurrency, len(g.clients)) {
		wg.Go(func() {
			for i := range idx {
				c := g.clients[i]
				t0 := time.Now()
				dctx, dcancel := context.WithTimeout(ctx, 30*time.Second)
				err := g.dial(dctx, c)
				dcancel()
				mu.Lock()
				if err != nil {
					failures++
					if firstErr == nil {
						firstErr = err
					}
				} else {
					lat = append(lat, time.Duration(c.readyAt-t0.UnixNano()))
					lastReady = max(lastReady, c.readyAt)
				}
				mu.Unlock()
			}
		})
	}
	for i := range g.clients {
		select {
		case idx <- i:
		case <-ctx.Done():
		}
	}
	close(idx)
	wg.Wait()
	for _, c := range g.clients {
		if c.readyAt != 0 {
			t := g.tenants[c.tenant]
			t.clients = append(t.clients, c.idx)
			if c.alerts {
				t.alerts = append(t.alerts, c.idx)
			}
		}
	}
	r.Sent, r.Expected, r.Received, r.Lost = len(g.clients), len(g.clients), len(lat), failures
	if firstErr != nil {
		r.note("%d connections failed; first: %v", failures, firstErr)
	}
	if lastReady > 0 {
		r.Rate = float64(len(lat)) / time.Duration(lastReady-start.UnixNano()).Seconds()
	}
	r.Latency = summarize(lat)
	if len(lat) == 0 {
		return
	}
	n := float64(len(lat))
	if g.pid != 0 {
		p, _ := readProc(g.pid)
		cs.RSSPerConn = float64(p.rss-rssBefore) / n
	}
	connected := g.scrape()
	select {
	case <-ctx.Done():
	case <-time.After(g.cfg.Settle):
	}
	if g.pid != 0 {
		p, _ := readProc(g.pid)
		cs.RSSPerConnSettled = float64(p.rss-rssBefore) / n
		cs.ServerRSS = p.rss
	}
	after := g.scrape()
	if heapBefore != nil && after != nil {
		cs.HeapPerConn = (after[mHeapInuse] - heapBefore[mHeapInuse]) / n
		cs.StackPerConn = (after[mStackInuse] - heapBefore[mStackInuse]) / n
		cs.GoroutinesPerConn = (after[mGoroutines] - heapBefore[mGoroutines]) / n
	}
	if g.cfg.GCWait <= 0 || heapBefore == nil || connected == nil {
		return
	}
	// The live figure: wait for the server's next garbage collection (the
	// runtime forces one after two idle minutes), then take what survived
	// it, heap and stacks, per connection.
	wctx, cancel := context.WithTimeout(ctx, g.cfg.GCWait)
	defer cancel()
	for {
		m := g.scrape()
		if m != nil && m[mGCCount] > connected[mGCCount] {
			cs.LivePerConn = (m[mHeapAlloc] + m[mStackInuse] - heapBefore[mHeapAlloc] - heapBefore[mStackInuse]) / n
			cs.AfterGC = true
			if g.pid != 0 {
				p, _ := readProc(g.pid)
				cs.RSSPerConnAfterGC = float64(p.rss-rssBefore) / n
			}
			return
		}
		select {
		case <-wctx.Done():
			r.note("no garbage collection in the server within --gc-wait %s: no after-GC figure", g.cfg.GCWait)
			return
		case <-time.After(time.Second):
		}
	}
}

// Go runtime metrics read from the server's /metrics.
const (
	mHeapAlloc  = "go_memstats_heap_alloc_bytes"
	mHeapInuse  = "go_memstats_heap_inuse_bytes"
	mStackInuse = "go_memstats_stack_inuse_bytes"
	mGoroutines = "go_goroutines"
	mGCCount    = "go_gc_duration_seconds_count"
)

// scrape reads a few Go runtime gauges from the server's /metrics; nil
// when it has none.
func (g *gen) scrape() map[string]float64 {
	res, err := g.api.Get(g.target.base + "/metrics")
	if err != nil {
		return nil
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil
	}
	want := map[string]bool{mHeapAlloc: true, mHeapInuse: true, mStackInuse: true, mGoroutines: true, mGCCount: true}
	out := map[string]float64{}
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), " ")
		if ok && want[name] {
			if v, err := strconv.ParseFloat(val, 64); err == nil {
				out[name] = v
			}
		}
	}
	if len(out) != len(want) {
		return nil
	}
	return out
}

// drain waits until every expected delivery of phase has arrived (or the
// drain time is up), then a little longer to catch duplicates.
func (g *gen) drain(ctx context.Context, phase int8, expected int64) {
	ctx, cancel := context.WithTimeout(ctx, g.cfg.Drain)
	defer cancel()
	for g.received[phase].Load() < expected {
		select {
		case <-ctx.Done():
			return
		case <-time.After(5 * time.Millisecond):
		}
	}
	select {
	case <-ctx.Done():
	case <-time.After(200 * time.Millisecond):
	}
}

// account collects every client's receipts for phase.
func (g *gen) account(l *ledger, phase int8, r *PhaseResult) {
	byClient := make([][]receipt, len(g.clients))
	for i, c := range g.clients {
		byClient[i] = c.takeReceipts()
	}
	t := l.account(phase, byClient)
	r.Latency = summarize(t.latencies)
	r.Rate = t.Rate()
	r.Tally = t
}
