package main

import (
	"fmt"

	"github.com/prometheus/procfs"
)

// machineCPU is the whole machine's CPU time so far, summed over its CPUs,
// from /proc/stat. A phase reports how busy the machine was while it ran:
// the server shares the cores with the load generator, the database and
// whatever else runs there, and a latency figure means little without
// knowing how much of the machine was left. On a virtual machine, steal
// is time a CPU was ready to run but the hypervisor ran someone else.
type machineCPU struct {
	busy  float64 // seconds not idle and not waiting for I/O (steal included)
	steal float64
	total float64
}

// readMachineCPU reads fs's /proc/stat.
func readMachineCPU(fs procfs.FS) (machineCPU, error) {
	st, err := fs.Stat()
	if err != nil {
		return machineCPU{}, fmt.Errorf("machine CPU: %w", err)
	}
	c := st.CPUTotal
	// Guest time is already counted in user and nice.
	total := c.User + c.Nice + c.System + c.Idle + c.Iowait + c.IRQ + c.SoftIRQ + c.Steal
	return machineCPU{busy: total - c.Idle - c.Iowait, steal: c.Steal, total: total}, nil
}

// since returns the busy and steal shares of the machine's CPU time from
// before to m; ok is false when no time passed (or the counters went
// back, as they never should).
func (m machineCPU) since(before machineCPU) (busy, steal float64, ok bool) {
	d := m.total - before.total
	if d <= 0 || m.busy < before.busy || m.steal < before.steal {
		return 0, 0, false
	}
	return min((m.busy-before.busy)/d, 1), min((m.steal-before.steal)/d, 1), true
}
