package bulkimport

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
)

// Bounds of what the reader holds in memory at once.
const (
	// MaxRecordBytes bounds one CSV record (a row, quoted newlines
	// included). A longer one, such as the rest of a file after an
	// unbalanced quote, stops the import rather than fill memory.
	MaxRecordBytes = 1 << 20
	maxHeaderBytes = 64 << 10
	maxColumns     = 1000
	readAhead      = 4096 // bufio's default buffer, which csv.Reader reads through
)

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// errRecordTooLarge is what the guard returns past the record bound.
var errRecordTooLarge = errors.New("record too large")

// guard lets the CSV reader read at most up to limit (an absolute file
// offset), which is moved forward after every record: so no single record
// can make the reader buffer more than its bound.
type guard struct {
	r          io.Reader
	pos, limit int64
}

func (g *guard) Read(p []byte) (int, error) {
	if g.pos >= g.limit {
		return 0, errRecordTooLarge
	}
	if rem := g.limit - g.pos; int64(len(p)) > rem {
		p = p[:rem]
	}
	n, err := g.r.Read(p)
	g.pos += int64(n)
	return n, err
}

// csvFile reads the records of an uploaded file, from a given offset, one
// at a time.
type csvFile struct {
	f      io.ReadSeeker
	g      *guard
	cr     *csv.Reader
	base   int64 // absolute offset where cr started
	fields int   // columns of the header
}

// readHeader reads the header record at the start of f (after a UTF-8
// byte order mark, which spreadsheet programs write). It returns the
// header and the offset just after it.
func readHeader(f io.ReadSeeker) ([]string, int64, error) {
	start := int64(0)
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, 0, err
	}
	bom := make([]byte, len(utf8BOM))
	n, err := io.ReadFull(f, bom)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return nil, 0, err
	}
	if n == len(utf8BOM) && bytes.Equal(bom, utf8BOM) {
		start = int64(n)
	}
	c, err := openCSV(f, start, 0, maxHeaderBytes)
	if err != nil {
		return nil, 0, err
	}
	rec, err := c.cr.Read()
	switch {
	case errors.Is(err, io.EOF):
		return nil, 0, badInput("is empty: its first line must be a header row naming the columns")
	case errors.Is(err, errRecordTooLarge):
		return nil, 0, badInput(fmt.Sprintf("has a header row longer than %d bytes (an unbalanced quote?)", maxHeaderBytes))
	case err != nil:
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			return nil, 0, badInput("has a header row that is not valid CSV: " + pe.Err.Error())
		}
		return nil, 0, fmt.Errorf("read the uploaded file: %w", err)
	case len(rec) > maxColumns:
		return nil, 0, badInput(fmt.Sprintf("has %d columns; at most %d are supported", len(rec), maxColumns))
	}
	return append([]string(nil), rec...), c.offset(), nil
}

// badInput is a problem of the file itself (as opposed to reading it),
// said of the file: "is empty: ...".
type badInput string

func (e badInput) Error() string { return "the file " + string(e) }

// openCSV returns a reader of records starting at offset, expecting
// fields columns per record (0: any), the first record bounded by first
// bytes.
func openCSV(f io.ReadSeeker, offset int64, fields int, first int64) (*csvFile, error) {
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return nil, fmt.Errorf("seek to %d: %w", offset, err)
	}
	g := &guard{r: f, pos: offset, limit: offset + first + readAhead}
	cr := csv.NewReader(g)
	cr.FieldsPerRecord = fields
	if fields == 0 {
		cr.FieldsPerRecord = -1
	}
	cr.ReuseRecord = true
	return &csvFile{f: f, g: g, cr: cr, base: offset, fields: fields}, nil
}

// offset is the absolute offset just after the last record read.
func (c *csvFile) offset() int64 { return c.base + c.cr.InputOffset() }

// record is one record read: fields (nil when it could not be parsed),
// the offset after it, and why it is malformed ("" when it is not).
type record struct {
	fields    []string
	end       int64
	malformed string
}

// errTooLarge is a record past MaxRecordBytes: the import stops there.
type errTooLarge struct{}

func (errTooLarge) Error() string {
	return fmt.Sprintf("the row is longer than %d bytes (an unbalanced quote makes the rest of the file one field)", MaxRecordBytes)
}

// next reads the next record. io.EOF at the end; errTooLarge for a record
// past the bound; other errors are the file's (reading failed).
func (c *csvFile) next() (record, error) {
	fields, err := c.cr.Read()
	end := c.offset()
	c.g.limit = end + MaxRecordBytes + readAhead
	if err == nil {
		return record{fields: fields, end: end}, nil
	}
	if errors.Is(err, io.EOF) {
		return record{}, io.EOF
	}
	if errors.Is(err, errRecordTooLarge) {
		return record{end: end}, errTooLarge{}
	}
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		if errors.Is(pe.Err, csv.ErrFieldCount) {
			return record{end: end, malformed: fmt.Sprintf("has %d columns; the header has %d", len(fields), c.fields)}, nil
		}
		return record{end: end, malformed: "is not valid CSV: " + pe.Err.Error()}, nil
	}
	return record{}, fmt.Errorf("read the uploaded file: %w", err)
}
