package reportfs

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/report"
)

var _ report.Files = (*Dir)(nil)

// folder is where report files live inside the data directory.
const folder = "reports"

// Dir stores report files under a data directory.
type Dir struct {
	root string // absolute
}

// New returns a Dir rooted at dataDir (made absolute). Nothing is created
// until the first write.
func New(dataDir string) (*Dir, error) {
	if strings.TrimSpace(dataDir) == "" {
		return nil, errors.New("reportfs: the data directory is required")
	}
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		return nil, fmt.Errorf("reportfs: data directory %q: %w", dataDir, err)
	}
	return &Dir{root: abs}, nil
}

// Root is the data directory, absolute.
func (d *Dir) Root() string { return d.root }

// TenantFolder is the folder name of tenant's files (see the package doc).
func TenantFolder(tenant domain.TenantID) string {
	sum := sha256.Sum256([]byte(tenant))
	var b strings.Builder
	for _, r := range strings.ToLower(string(tenant)) {
		if b.Len() >= 64 {
			break
		}
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') || r == '-' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String() + "-" + hex.EncodeToString(sum[:16])
}

// Path is the path of a report's file relative to the data directory
// (slash-separated). id must be a UUID.
func Path(tenant domain.TenantID, id string) (string, error) {
	u, err := uuid.Parse(id)
	if err != nil || len(id) != 36 {
		return "", fmt.Errorf("report file: id %q: %w", id, domain.Invalid("id", "must be a UUID"))
	}
	if tenant == "" {
		return "", fmt.Errorf("report file: %w", domain.Invalid("tenant", "required"))
	}
	return path.Join(folder, TenantFolder(tenant), u.String()+".json"), nil
}

// Write writes the file of report id of tenant atomically and returns its
// relative path. An existing file is replaced.
func (d *Dir) Write(ctx context.Context, tenant domain.TenantID, id string, write func(w io.Writer) error) (string, error) {
	rel, err := Path(tenant, id)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(d.root, 0o750); err != nil {
		return "", fmt.Errorf("report file: data directory: %w", err)
	}
	root, err := os.OpenRoot(d.root)
	if err != nil {
		return "", fmt.Errorf("report file: open data directory: %w", err)
	}
	defer root.Close()
	dir := filepath.FromSlash(path.Dir(rel))
	if err := root.MkdirAll(dir, 0o750); err != nil {
		return "", fmt.Errorf("report file: %w", err)
	}
	tmp, err := tempName(rel)
	if err != nil {
		return "", err
	}
	final := filepath.FromSlash(rel)
	f, err := root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return "", fmt.Errorf("report file: %w", err)
	}
	renamed := false
	defer func() {
		if !renamed {
			_ = f.Close()
			_ = root.Remove(tmp)
		}
	}()
	buf := bufio.NewWriterSize(f, 64<<10)
	if err := write(ctxWriter{ctx, buf}); err != nil {
		return "", fmt.Errorf("report file: write: %w", err)
	}
	if err := buf.Flush(); err != nil {
		return "", fmt.Errorf("report file: write: %w", err)
	}
	if err := f.Sync(); err != nil {
		return "", fmt.Errorf("report file: sync: %w", err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("report file: close: %w", err)
	}
	if err := root.Rename(tmp, final); err != nil {
		return "", fmt.Errorf("report file: rename: %w", err)
	}
	renamed = true
	// The rename is durable once the folder is synced.
	if df, err := root.Open(dir); err == nil {
		_ = df.Sync()
		_ = df.Close()
	}
	return rel, nil
}

// tempName is a fresh temporary name next to rel.
func tempName(rel string) (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("report file: temp name: %w", err)
	}
	return filepath.FromSlash(path.Join(path.Dir(rel), "."+path.Base(rel)+"."+hex.EncodeToString(b[:])+".tmp")), nil
}

// Open opens the file of report id of tenant; domain.ErrNotFound when it
// does not exist.
func (d *Dir) Open(_ context.Context, tenant domain.TenantID, id string) (io.ReadSeekCloser, time.Time, error) {
	rel, err := Path(tenant, id)
	if err != nil {
		return nil, time.Time{}, err
	}
	root, err := os.OpenRoot(d.root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, time.Time{}, fmt.Errorf("report file %s: %w", rel, domain.ErrNotFound)
	}
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("report file: open data directory: %w", err)
	}
	defer root.Close()
	f, err := root.Open(filepath.FromSlash(rel))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, time.Time{}, fmt.Errorf("report file %s: %w", rel, domain.ErrNotFound)
	}
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("report file: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, time.Time{}, fmt.Errorf("report file: %w", err)
	}
	if !st.Mode().IsRegular() {
		_ = f.Close()
		return nil, time.Time{}, fmt.Errorf("report file %s is not a regular file: %w", rel, domain.ErrNotFound)
	}
	return f, st.ModTime(), nil
}

// ctxWriter stops a long write once ctx ends (the job's timeout).
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}
