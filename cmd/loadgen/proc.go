package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat. It
// is 100 on every Linux architecture Go supports (the kernel ABI fixes it;
// sysconf would need cgo).
const clockTicks = 100

// procSample is a process's resident memory and CPU time so far.
type procSample struct {
	rss int64         // bytes
	cpu time.Duration // user + system
}

// readProc samples /proc/PID.
func readProc(pid int) (procSample, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procSample{}, err
	}
	// The command name (field 2) may hold spaces and parentheses: fields
	// are counted after its last ')'.
	i := strings.LastIndexByte(string(stat), ')')
	if i < 0 {
		return procSample{}, fmt.Errorf("/proc/%d/stat: malformed", pid)
	}
	f := strings.Fields(string(stat[i+1:]))
	// f[0] is field 3 (state): utime is field 14, stime 15, rss 24 (pages).
	if len(f) < 22 {
		return procSample{}, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	rss, err3 := strconv.ParseInt(f[21], 10, 64)
	if err := errors.Join(err1, err2, err3); err != nil {
		return procSample{}, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	return procSample{
		rss: rss * int64(os.Getpagesize()),
		cpu: time.Duration(utime+stime) * time.Second / clockTicks,
	}, nil
}

// sampler watches the server's RSS in the background, so that a phase
// reports its peak, not only its end.
type sampler struct {
	pid  int
	mu   sync.Mutex
	peak int64
	stop chan struct{}
	done chan struct{}
}

func startSampler(pid int, every time.Duration) *sampler {
	s := &sampler{pid: pid, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			if p, err := readProc(pid); err == nil {
				s.mu.Lock()
				s.peak = max(s.peak, p.rss)
				s.mu.Unlock()
			}
			select {
			case <-s.stop:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

// resetPeak returns the peak RSS seen since the last reset and starts over.
func (s *sampler) resetPeak() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.peak
	s.peak = 0
	return p
}

func (s *sampler) close() {
	close(s.stop)
	<-s.done
}

// findListener returns the process listening on TCP port: the socket's
// inode from /proc/net/tcp{,6}, then the process holding it among
// /proc/*/fd. It needs to see that process's fds (same user, or root).
func findListener(port int) (int, error) {
	inodes := map[string]bool{}
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		if err := listenInodes(f, port, inodes); err != nil && !errors.Is(err, os.ErrNotExist) {
			return 0, err
		}
	}
	if len(inodes) == 0 {
		return 0, fmt.Errorf("no process listens on port %d", port)
	}
	procs, err := filepath.Glob("/proc/[0-9]*/fd/*")
	if err != nil {
		return 0, err
	}
	found := map[int]bool{}
	for _, fd := range procs {
		link, err := os.Readlink(fd)
		if err != nil || !strings.HasPrefix(link, "socket:[") {
			continue
		}
		if inodes[strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")] {
			pid, _ := strconv.Atoi(strings.Split(fd, "/")[2])
			found[pid] = true
		}
	}
	switch len(found) {
	case 0:
		return 0, fmt.Errorf("the listener on port %d belongs to a process this user cannot see; pass --pid", port)
	case 1:
		for pid := range found {
			return pid, nil
		}
	}
	return 0, fmt.Errorf("several processes share the listener on port %d; pass --pid", port)
}

// listenInodes adds the inodes of sockets listening on port from one
// /proc/net table.
func listenInodes(path string, port int, into map[string]bool) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
		fs := strings.Fields(sc.Text())
		if len(fs) < 10 || fs[3] != "0A" { // 0A: LISTEN
			continue
		}
		_, hexPort, ok := strings.Cut(fs[1], ":")
		if !ok {
			continue
		}
		p, err := strconv.ParseInt(hexPort, 16, 32)
		if err == nil && int(p) == port {
			into[fs[9]] = true
		}
	}
	return sc.Err()
}
