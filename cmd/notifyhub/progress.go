package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/notifyhub/notifyhub/domain/bulkimport"
)

// progressBar draws an import's progress: redrawn in place on a terminal,
// a line every few seconds (and on every change of status) otherwise, so
// logs of a scripted run stay readable.
type progressBar struct {
	w        io.Writer
	tty      bool
	every    time.Duration // between lines when not a terminal
	last     time.Time
	status   bulkimport.Status
	counted  bool
	from     int64 // rows done when first seen processing
	fromTime time.Time
	now      func() time.Time
}

func newProgressBar(w io.Writer) *progressBar {
	tty := false
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	return &progressBar{w: w, tty: tty, every: 5 * time.Second, now: time.Now}
}

func (b *progressBar) show(im bulkimport.Import, waited time.Duration) {
	now := b.now()
	if im.Status == bulkimport.StatusProcessing && b.fromTime.IsZero() {
		b.from, b.fromTime = im.ResumeRow, now
	}
	line := b.line(im, waited, now)
	if b.tty {
		fmt.Fprintf(b.w, "\r%s\033[K", line)
		return
	}
	if im.Status != b.status || im.Counted != b.counted || now.Sub(b.last) >= b.every {
		fmt.Fprintln(b.w, line)
		b.last, b.status, b.counted = now, im.Status, im.Counted
	}
}

// done ends the line on a terminal.
func (b *progressBar) done() {
	if b.tty {
		fmt.Fprintln(b.w)
	}
}

const barWidth = 30

func (b *progressBar) line(im bulkimport.Import, waited time.Duration, now time.Time) string {
	switch {
	case im.Status == bulkimport.StatusPending:
		msg := fmt.Sprintf("queued, waiting for a worker (%s)", waited.Round(time.Second))
		if waited > 10*time.Second {
			msg += ": is `notifyhub serve` or `notifyhub worker` running on this database?"
		}
		return msg
	case im.Status == bulkimport.StatusProcessing && !im.Counted:
		return "counting the rows of the file..."
	}
	total := max(im.TotalRows, im.ResumeRow)
	filled := barWidth
	pct := 100.0
	if total > 0 {
		pct = 100 * float64(im.ResumeRow) / float64(total)
		filled = int(int64(barWidth) * im.ResumeRow / total)
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "[%s%s] %3.0f%% %s/%s rows", strings.Repeat("#", filled), strings.Repeat(".", barWidth-filled),
		pct, thousands(im.ResumeRow), thousands(total))
	if elapsed := now.Sub(b.fromTime); !b.fromTime.IsZero() && elapsed >= time.Second && im.ResumeRow > b.from {
		rate := float64(im.ResumeRow-b.from) / elapsed.Seconds()
		fmt.Fprintf(&sb, ", %s rows/s", thousands(int64(rate)))
		if left := total - im.ResumeRow; left > 0 && im.Status == bulkimport.StatusProcessing {
			fmt.Fprintf(&sb, ", %s left", (time.Duration(float64(left)/rate) * time.Second).Round(time.Second))
		}
	}
	if im.Failed > 0 {
		fmt.Fprintf(&sb, ", %s failed", thousands(im.Failed))
	}
	if im.Status != bulkimport.StatusProcessing {
		sb.WriteString(", " + string(im.Status))
	}
	return sb.String()
}

// thousands formats n as 1,234,567.
func thousands(n int64) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
