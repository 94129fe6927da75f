package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"
)

// PhaseResult is one phase of the report.
type PhaseResult struct {
	Name    string `json:"name"`
	Skipped string `json:"skipped,omitempty"`
	Tally
	Rate       float64       `json:"deliveries_per_second"`
	Latency    Latency       `json:"latency"`
	SendLag    time.Duration `json:"send_lag_ns"` // worst lag behind a fixed-rate schedule
	SendErrors int           `json:"send_errors"`
	Wall       time.Duration `json:"wall_ns"`
	// Server resource use during the phase (0 when the process is unknown).
	ServerCPU        time.Duration `json:"server_cpu_ns"`
	ServerCPUPer100k float64       `json:"server_cpu_seconds_per_100k"`
	ServerRSSPeak    int64         `json:"server_rss_peak_bytes"`
	OwnCPU           time.Duration `json:"loadgen_cpu_ns"`
	// The whole machine's CPU during the phase, as shares of all its CPUs'
	// time (machineCPU): busy (steal included) and stolen by the
	// hypervisor; MachineKnown is false where /proc/stat is not readable.
	MachineKnown bool          `json:"machine_known"`
	MachineBusy  float64       `json:"machine_busy"`
	MachineSteal float64       `json:"machine_steal"`
	Connect      *ConnectStats `json:"connect,omitempty"`
	Notes        []string      `json:"notes,omitempty"`

	// restartMeter, while the phase runs, starts its wall time and
	// resource figures over: a phase calls it when its setup is done.
	restartMeter func()
}

// ConnectStats is the connect phase's memory view of the server.
type ConnectStats struct {
	RSSPerConn        float64 `json:"rss_bytes_per_conn"`         // RSS growth / connections, right after connecting
	RSSPerConnSettled float64 `json:"rss_bytes_per_conn_settled"` // the same after --settle
	ServerRSS         int64   `json:"server_rss_bytes"`
	HeapPerConn       float64 `json:"heap_inuse_bytes_per_conn"` // from /metrics
	StackPerConn      float64 `json:"stack_inuse_bytes_per_conn"`
	GoroutinesPerConn float64 `json:"goroutines_per_conn"`
	// After the server's next garbage collection (--gc-wait): heap and
	// stacks that survived it, and RSS then.
	AfterGC           bool    `json:"after_gc"`
	LivePerConn       float64 `json:"live_bytes_per_conn_after_gc"`
	RSSPerConnAfterGC float64 `json:"rss_bytes_per_conn_after_gc"`
}

func (r *PhaseResult) note(format string, args ...any) {
	r.Notes = append(r.Notes, fmt.Sprintf(format, args...))
}

// Report is a whole run.
type Report struct {
	Run        string        `json:"run"`
	Target     string        `json:"target"`
	PID        int           `json:"server_pid"`
	Machine    Machine       `json:"machine"`
	Clients    int           `json:"clients"`
	Tenants    int           `json:"tenants"`
	Phases     []PhaseResult `json:"phases"`
	Reconnects int           `json:"reconnects"`
	Notes      []string      `json:"notes,omitempty"`
}

// Machine describes where the figures come from.
type Machine struct {
	CPUs  int    `json:"cpus"`
	Model string `json:"cpu_model"`
	Go    string `json:"go"`
}

func newReport(g *gen) *Report {
	return &Report{Run: g.run, Target: g.target.base, Clients: g.cfg.Clients, Tenants: g.cfg.Tenants,
		Machine: Machine{CPUs: runtime.NumCPU(), Model: cpuModel(), Go: runtime.Version()}}
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func (r *Report) note(format string, args ...any) {
	r.Notes = append(r.Notes, fmt.Sprintf(format, args...))
}

// Clean reports whether no phase lost, duplicated or misrouted anything.
func (r *Report) Clean() bool {
	for _, p := range r.Phases {
		if p.Skipped == "" && (p.Lost != 0 || p.Duplicated != 0 || p.Stray != 0) {
			return false
		}
	}
	return true
}

func (r *Report) writeJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

func (r *Report) writeTable(w io.Writer) {
	fmt.Fprintf(w, "run %s against %s (server pid %d), %d clients in %d tenants; %d CPUs (%s), %s\n\n",
		r.Run, r.Target, r.PID, r.Clients, r.Tenants, r.Machine.CPUs, r.Machine.Model, r.Machine.Go)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "phase\tsent\texpected\treceived\tlost\tdup\tstray\tper s\tmin\tp50\tp95\tp99\tmax\tsrv CPU s\tsrv CPU s/100k\tlg CPU s\tbusy %\tsteal %\t")
	for _, p := range r.Phases {
		if p.Skipped != "" {
			fmt.Fprintf(tw, "%s\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\t\n", p.Name)
			continue
		}
		per100k := "-"
		if p.ServerCPUPer100k > 0 {
			per100k = fmt.Sprintf("%.2f", p.ServerCPUPer100k)
		}
		busy, steal := "-", "-"
		if p.MachineKnown {
			busy, steal = fmt.Sprintf("%.0f", p.MachineBusy*100), fmt.Sprintf("%.1f", p.MachineSteal*100)
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%.0f\t%s\t%s\t%s\t%s\t%s\t%.2f\t%s\t%.2f\t%s\t%s\t\n",
			p.Name, p.Sent, p.Expected, p.Received, p.Lost, p.Duplicated, p.Stray, p.Rate,
			ms(p.Latency.Min), ms(p.Latency.P50), ms(p.Latency.P95), ms(p.Latency.P99), ms(p.Latency.Max),
			p.ServerCPU.Seconds(), per100k, p.OwnCPU.Seconds(), busy, steal)
	}
	_ = tw.Flush()
	fmt.Fprintln(w)
	for _, p := range r.Phases {
		if c := p.Connect; c != nil {
			fmt.Fprintf(w, "connect: %.0f connections/s; server RSS %.1f MiB; per connection: RSS %.1f KiB (%.1f KiB after settling), heap %.1f KiB, stacks %.1f KiB, %.2f goroutines\n",
				p.Rate, float64(c.ServerRSS)/(1<<20), c.RSSPerConn/1024, c.RSSPerConnSettled/1024,
				c.HeapPerConn/1024, c.StackPerConn/1024, c.GoroutinesPerConn)
			if c.AfterGC {
				fmt.Fprintf(w, "connect: after the server's next GC, per connection: live heap + stacks %.1f KiB, RSS %.1f KiB\n",
					c.LivePerConn/1024, c.RSSPerConnAfterGC/1024)
			}
		}
		if p.Skipped != "" {
			fmt.Fprintf(w, "%s: skipped: %s\n", p.Name, p.Skipped)
		}
		if p.SendLag > 10*time.Millisecond {
			fmt.Fprintf(w, "%s: sends fell up to %s behind the fixed-rate schedule\n", p.Name, p.SendLag.Round(time.Millisecond))
		}
		for _, n := range p.Notes {
			fmt.Fprintf(w, "%s: %s\n", p.Name, n)
		}
	}
	for _, n := range r.Notes {
		fmt.Fprintln(w, "note:", n)
	}
}

func ms(d time.Duration) string {
	return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
}
