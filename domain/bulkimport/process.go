package bulkimport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"time"

	"github.com/notifyhub/notifyhub/domain"
)

// errStale: the import moved on (another run of its job committed rows)
// since this run read it; re-read it and carry on from there.
var errStale = errors.New("import progressed elsewhere")

// fatalRow is a row that stops the import (too large to read).
type fatalRow struct {
	row int64
	msg string
}

func (e *fatalRow) Error() string { return fmt.Sprintf("row %d: %s", e.row, e.msg) }

// Process runs an import: the ProcessBulkImport job. It reads the file
// from where the import stopped, imports its rows batch by batch (each
// batch with the progress in one transaction), completes the import and
// tells the importing user. It is safe to run again, and concurrently: a
// completed import returns at once, and no row is imported twice.
//
// A problem of the file itself (a header that no longer fits the mapping,
// a row too large to read) fails the import and returns nil: running the
// job again cannot help. Errors it returns (the database or the data
// directory failing) are worth a retry, which resumes. When ctx has a
// deadline, Process stops a little before it and queues the job again to
// carry on, so an import of any size never runs into its job's timeout.
func (s *Service) Process(ctx context.Context, tenant domain.TenantID, id string) (err error) {
	defer func() {
		// A transaction cut by the run's end fails with whatever the driver
		// says (a rolled back transaction): say it was the end.
		if cause := ctx.Err(); err != nil && cause != nil && !errors.Is(err, cause) {
			err = fmt.Errorf("%w: %w", cause, err)
		}
	}()
	id, err = domain.ParseID("import_id", id)
	if err != nil {
		return fmt.Errorf("process import: %w: %w", domain.ErrPermanent, err)
	}
	start := time.Now()
	im, done, err := s.begin(ctx, tenant, id)
	if err != nil {
		return err
	}
	if done {
		s.removeFile(ctx, im)
		return nil
	}
	f, err := s.cfg.Files.open(tenant, im.FilePath)
	if err != nil {
		return fmt.Errorf("import %s: %w", im.ID, err)
	}
	defer f.Close()
	r, err := s.reader(ctx, f, im)
	if err != nil || r == nil {
		return err
	}
	if !im.Counted {
		if im, err = s.count(ctx, r, im); err != nil || im.Status != StatusProcessing {
			return err
		}
	}
	if err := r.seek(im); err != nil {
		return err
	}
	batches := 0
	for {
		if s.timeToYield(ctx, start, batches) {
			return s.yield(ctx, im)
		}
		rows, eof, readErr := r.batch(im.ResumeRow, s.cfg.BatchSize)
		var fatal *fatalRow
		if readErr != nil && !errors.As(readErr, &fatal) {
			return fmt.Errorf("import %s: %w", im.ID, readErr)
		}
		if len(rows) > 0 {
			next, err := s.commit(ctx, im, rows)
			if errors.Is(err, errStale) {
				if im, err = s.store.GetImport(ctx, tenant, id); err != nil {
					return err
				}
				if im.Status != StatusProcessing {
					return nil // completed or stopped by the other run
				}
				if err := r.seek(im); err != nil {
					return err
				}
				continue
			}
			if err != nil {
				return err
			}
			im = next
			batches++
		}
		switch {
		case fatal != nil:
			return s.abort(ctx, im, &RowError{Row: fatal.row, Message: fatal.msg}, fatal.Error())
		case eof:
			return s.complete(ctx, im)
		}
	}
}

// begin locks the import and marks it processing; done reports a
// completed one (nothing to do).
func (s *Service) begin(ctx context.Context, tenant domain.TenantID, id string) (im Import, done bool, err error) {
	err = s.store.InTx(ctx, func(ctx context.Context) error {
		im, err = s.store.LockImport(ctx, tenant, id)
		if errors.Is(err, domain.ErrNotFound) {
			return fmt.Errorf("import %s of %s is gone: %w", id, tenant, domain.ErrPermanent)
		}
		if err != nil {
			return err
		}
		done = im.Status == StatusCompleted
		if done || im.Status == StatusProcessing {
			return nil
		}
		now := s.now()
		if im.StartedAt == nil {
			im.StartedAt = &now
		}
		im.Status, im.LastError, im.FailedAt = StatusProcessing, "", nil
		return s.store.UpdateImport(ctx, im)
	})
	return im, done, err
}

// source reads an import's file: its header once, then rows from
// wherever the import stands.
type source struct {
	f       *os.File
	cols    columns
	header  []string
	start   int64 // just after the header
	typ     Type
	mapping map[string]string
	csv     *csvFile
}

// reader opens the file's header and checks it still fits the mapping.
// A nil source (and nil error) means the import failed on its file.
func (s *Service) reader(ctx context.Context, f *os.File, im Import) (*source, error) {
	fail := func(msg string) (*source, error) { return nil, s.abort(ctx, im, nil, msg) }
	info, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if info.Size() != im.FileSize {
		return fail(fmt.Sprintf("the uploaded file changed: it has %d bytes, %d were uploaded", info.Size(), im.FileSize))
	}
	header, start, err := readHeader(f)
	var bad badInput
	if errors.As(err, &bad) {
		return fail(bad.Error())
	}
	if err != nil {
		return nil, err
	}
	_, cols, err := resolve(im.Type, im.Mapping, header)
	if err != nil {
		return fail("the mapping does not fit the file: " + err.Error())
	}
	return &source{f: f, cols: cols, header: header, start: start, typ: im.Type, mapping: im.Mapping}, nil
}

// seek positions the reader after the import's last handled row.
func (r *source) seek(im Import) error {
	at := im.ResumeOffset
	if at == 0 {
		at = r.start
	}
	c, err := openCSV(r.f, at, len(r.header), MaxRecordBytes)
	if err != nil {
		return err
	}
	r.csv = c
	return nil
}

// maxBatchBytes bounds the bytes of the rows one batch holds: rows keep
// their record's text, and 2,000 rows of up to MaxRecordBytes each would
// not be flat memory.
const maxBatchBytes = 8 << 20

// batch reads up to n rows after row from (fewer when they add up to
// maxBatchBytes). eof is set once the file ended; a *fatalRow error comes
// with the rows before it.
func (r *source) batch(from int64, n int) (rows []row, eof bool, err error) {
	no := from
	begin := r.csv.offset()
	for len(rows) < n && r.csv.offset()-begin < maxBatchBytes {
		rec, err := r.csv.next()
		if errors.Is(err, io.EOF) {
			return rows, true, nil
		}
		no++
		var tl errTooLarge
		if errors.As(err, &tl) {
			return rows, false, &fatalRow{row: no, msg: tl.Error()}
		}
		if err != nil {
			return rows, false, err
		}
		rows = append(rows, parseRow(r.typ, r.cols, r.mapping, rec, no))
	}
	return rows, false, nil
}

// count reads the whole file once to set the import's total_rows (rows
// as the import will count them), before importing any: a row too large
// to read fails the import before it changes anything.
func (s *Service) count(ctx context.Context, r *source, im Import) (Import, error) {
	c, err := openCSV(r.f, r.start, len(r.header), MaxRecordBytes)
	if err != nil {
		return im, err
	}
	var n int64
	for {
		if n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return im, err
			}
		}
		_, err := c.next()
		if errors.Is(err, io.EOF) {
			break
		}
		n++
		var tl errTooLarge
		if errors.As(err, &tl) {
			im.Status = StatusFailed // tells Process to stop
			return im, s.abort(ctx, im, &RowError{Row: n, Message: tl.Error()}, fmt.Sprintf("row %d: %s", n, tl.Error()))
		}
		if err != nil {
			return im, fmt.Errorf("import %s: %w", im.ID, err)
		}
	}
	err = s.store.InTx(ctx, func(ctx context.Context) error {
		cur, err := s.store.LockImport(ctx, im.TenantID, im.ID)
		if err != nil {
			return err
		}
		if !cur.Counted {
			cur.Counted, cur.TotalRows = true, n
			if err := s.store.UpdateImport(ctx, cur); err != nil {
				return err
			}
		}
		im = cur
		return nil
	})
	return im, err
}

// commit imports one batch and records the progress, in one
// transaction. When the domain refuses a row, the batch is rolled back
// and its rows are imported one by one, each refused row counted as
// failed with the reason.
func (s *Service) commit(ctx context.Context, im Import, rows []row) (Import, error) {
	next, err := s.commitRows(ctx, im, rows, false)
	var re *rowError
	if err == nil || !errors.As(err, &re) || ctx.Err() != nil {
		return next, err
	}
	s.log.DebugContext(ctx, "a row was refused: importing the batch row by row",
		slog.String("import", im.ID), slog.Any("error", err))
	for _, r := range rows {
		next, err = s.commitRows(ctx, im, []row{r}, true)
		if errors.As(err, &re) && refused(re.err) && ctx.Err() == nil {
			r.fail = describe(re.err)
			next, err = s.commitRows(ctx, im, []row{r}, true)
		}
		if err != nil {
			return im, err
		}
		im = next
	}
	return im, nil
}

// commitRows is one transaction: lock the import, check it stands where
// this run thinks, apply the rows, write the progress.
func (s *Service) commitRows(ctx context.Context, im Import, rows []row, oneByOne bool) (Import, error) {
	var out Import
	err := s.store.InTx(ctx, func(ctx context.Context) error {
		cur, err := s.store.LockImport(ctx, im.TenantID, im.ID)
		if err != nil {
			return err
		}
		if cur.Status != StatusProcessing || cur.ResumeRow != rows[0].no-1 {
			return errStale
		}
		cur.Errors = slices.Clip(cur.Errors) // a retried transaction starts afresh
		if err := s.apply(ctx, &cur, slices.Clone(rows), oneByOne); err != nil {
			return err
		}
		out = cur
		return s.store.UpdateImport(ctx, cur)
	})
	return out, err
}

// refused reports whether err is the domain refusing a row (bad input, a
// rule, a conflict with existing data), as opposed to a failure worth
// retrying.
func refused(err error) bool {
	return domain.Permanent(err) || errors.Is(err, domain.ErrConflict) || errors.Is(err, domain.ErrNotFound)
}

// describe turns the domain's refusal of a row into its message.
func describe(err error) string {
	var v *domain.ValidationError
	var r *domain.RuleError
	switch {
	case errors.As(err, &v):
		return v.Error()[len("invalid input: "):]
	case errors.As(err, &r):
		return r.Message
	case errors.Is(err, domain.ErrConflict):
		return "conflicts with existing data (" + err.Error() + ")"
	case errors.Is(err, domain.ErrNotFound):
		return "refers to something that does not exist (" + err.Error() + ")"
	}
	return err.Error()
}

// complete marks the import completed, forgets its keys, tells the
// importing user (all in one transaction), then removes the file.
func (s *Service) complete(ctx context.Context, im Import) error {
	err := s.store.InTx(ctx, func(ctx context.Context) error {
		cur, err := s.store.LockImport(ctx, im.TenantID, im.ID)
		if err != nil {
			return err
		}
		if cur.Status != StatusProcessing || cur.ResumeRow != im.ResumeRow {
			return nil // another run finished it, or is still at it
		}
		now := s.now()
		cur.Status, cur.CompletedAt, cur.FailedAt, cur.LastError = StatusCompleted, &now, nil, ""
		cur.Counted, cur.TotalRows = true, cur.ResumeRow
		if err := s.store.DeleteImportKeys(ctx, cur.TenantID, cur.ID); err != nil {
			return err
		}
		if err := s.store.UpdateImport(ctx, cur); err != nil {
			return err
		}
		im = cur
		return s.notify(ctx, cur)
	})
	if err != nil {
		return fmt.Errorf("complete import %s: %w", im.ID, err)
	}
	if im.Status == StatusCompleted {
		s.removeFile(ctx, im)
	}
	return nil
}

// abort fails the import because of its file (rowErr, when a row is to
// blame). The job is done: running it again cannot help.
func (s *Service) abort(ctx context.Context, im Import, rowErr *RowError, reason string) error {
	s.log.InfoContext(ctx, "import failed on its file", slog.String("import", im.ID),
		slog.String("tenant", string(im.TenantID)), slog.String("reason", reason))
	return s.store.InTx(ctx, func(ctx context.Context) error {
		cur, err := s.store.LockImport(ctx, im.TenantID, im.ID)
		if err != nil || cur.Status == StatusCompleted || cur.Status == StatusFailed {
			return err
		}
		if rowErr != nil && !slices.Contains(cur.Errors, *rowErr) {
			cur.Errors = slices.Clip(cur.Errors)
			cur.recordFailure(rowErr.Row, rowErr.Message)
		}
		return s.fail(ctx, cur, reason)
	})
}

// fail marks the locked import failed and tells the importing user.
func (s *Service) fail(ctx context.Context, im Import, reason string) error {
	now := s.now()
	im.Status, im.FailedAt, im.LastError = StatusFailed, &now, clip(reason, 1000)
	if err := s.store.UpdateImport(ctx, im); err != nil {
		return err
	}
	return s.notify(ctx, im)
}

// timeToYield reports whether this run should hand over to a fresh job:
// its deadline is near (a fifth of its time, at most a minute, left) and
// it has moved the import forward.
func (s *Service) timeToYield(ctx context.Context, start time.Time, batches int) bool {
	deadline, ok := ctx.Deadline()
	if !ok || batches == 0 {
		return false
	}
	margin := min(deadline.Sub(start)/5, time.Minute)
	return time.Until(deadline) < margin
}

// yield queues the job again, to carry on from the progress committed.
func (s *Service) yield(ctx context.Context, im Import) error {
	return s.store.InTx(ctx, func(ctx context.Context) error {
		cur, err := s.store.LockImport(ctx, im.TenantID, im.ID)
		if err != nil || cur.Status != StatusProcessing || cur.ResumeRow != im.ResumeRow {
			return err // done, or another run carries on
		}
		_, err = s.jobs.Dispatch(ctx, im.TenantID, Job, Payload{ImportID: im.ID})
		return err
	})
}

// removeFile deletes a completed import's upload; a failure only leaves
// the file behind.
func (s *Service) removeFile(ctx context.Context, im Import) {
	if err := s.cfg.Files.remove(im.TenantID, im.FilePath); err != nil {
		s.log.WarnContext(ctx, "could not remove an imported file", slog.String("import", im.ID), slog.Any("error", err))
	}
}

func (s *Service) now() time.Time { return s.cfg.Now().UTC().Truncate(time.Microsecond) }
