package main

import (
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/procfs"
	"github.com/stretchr/testify/require"
)

// procWithStat is a /proc holding only a stat file of the given text.
func procWithStat(t *testing.T, stat string) procfs.FS {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "stat"), []byte(stat), 0o600))
	fs, err := procfs.NewFS(dir)
	require.NoError(t, err)
	return fs
}

// statLine is /proc/stat with one summed cpu line (ticks of 1/100 s:
// user nice system idle iowait irq softirq steal guest guest_nice).
func statLine(cpu string) string {
	return "cpu  " + cpu + "\ncpu0 " + cpu + "\nintr 0\nctxt 0\nbtime 1\nprocesses 1\nprocs_running 1\nprocs_blocked 0\nsoftirq 0 0 0 0 0 0 0 0 0 0 0\n"
}

func TestMachineCPUShares(t *testing.T) {
	t.Parallel()
	before, err := readMachineCPU(procWithStat(t, statLine("1000 0 500 8000 100 0 0 0 0 0")))
	require.NoError(t, err)
	// 200 s of CPU time later: user +100, system +40, idle +30, iowait +10,
	// irq +5, softirq +5, steal +10; guest +50 is inside user, not added.
	after, err := readMachineCPU(procWithStat(t, statLine("1100 0 540 8030 110 5 5 10 50 0")))
	require.NoError(t, err)
	busy, steal, ok := after.since(before)
	require.True(t, ok)
	require.InDelta(t, 160.0/200, busy, 1e-9, "user, system, irq, softirq and steal, not idle or iowait")
	require.InDelta(t, 10.0/200, steal, 1e-9)

	_, _, ok = before.since(before)
	require.False(t, ok, "no time passed")
	_, _, ok = before.since(after)
	require.False(t, ok, "counters that went back")
}

func TestMachineCPURefusesWhatIsNotProcStat(t *testing.T) {
	t.Parallel()
	missing, err := procfs.NewFS(t.TempDir())
	require.NoError(t, err)
	for name, fs := range map[string]procfs.FS{
		"no stat file": missing,
		"empty":        procWithStat(t, ""),
		"not numbers":  procWithStat(t, statLine("a b c d e f g h i j")),
		"binary":       procWithStat(t, "\x00\xff\x00cpu \xff"),
		"huge line":    procWithStat(t, "cpu  "+strings.Repeat("9", 1<<20)+"\n"),
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if m, err := readMachineCPU(fs); err == nil {
				// procfs may accept a file without a usable cpu line:
				// it must then read as no time, which a phase does not
				// report.
				_, _, ok := m.since(machineCPU{})
				require.False(t, ok, "read as %+v", m)
			}
		})
	}
}

// On Linux a phase reports the machine's share busy (this test's own
// work at the least).
func TestPhasesReportTheMachineBusy(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("/proc/stat is Linux's")
	}
	t.Parallel()
	fs, err := procfs.NewDefaultFS()
	require.NoError(t, err)
	g := &gen{proc: fs, log: io.Discard}
	r := g.measure(phasePersonal, func(*PhaseResult) {
		burn(50 * time.Millisecond) // several of /proc/stat's 10-ms ticks
	})
	require.True(t, r.MachineKnown)
	require.Greater(t, r.MachineBusy, 0.0)
	require.LessOrEqual(t, r.MachineBusy, 1.0)
	require.GreaterOrEqual(t, r.MachineSteal, 0.0)
}

// burn spends at least d of this process's CPU time (counted by the
// kernel, so however fast the machine).
func burn(d time.Duration) {
	start := selfCPU()
	for sum := 0; selfCPU()-start < d; {
		for i := range 100_000 {
			sum += i
		}
		if sum < 0 { // never: keeps the loop from being left out
			panic(sum)
		}
	}
}

// A phase that restarts its meter (after its setup) reports only what
// came after: the setup's CPU is not the phase's.
func TestRestartedMeterLeavesTheSetupOut(t *testing.T) {
	t.Parallel()
	fs, err := procfs.NewDefaultFS()
	require.NoError(t, err)
	g := &gen{proc: fs, log: io.Discard}
	var setup time.Duration
	r := g.measure(phaseBusiness, func(r *PhaseResult) {
		before := selfCPU()
		burn(50 * time.Millisecond) // the setup
		setup = selfCPU() - before
		r.restartMeter()
	})
	require.Positive(t, setup)
	require.Less(t, r.OwnCPU, setup, "the setup's CPU was counted")
	require.Nil(t, r.restartMeter, "not kept past the phase")
}
