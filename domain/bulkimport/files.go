package bulkimport

import (
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

	"github.com/notifyhub/notifyhub/domain"
)

// Files keeps uploaded import files under a data directory:
//
//	<data dir>/imports/<tenant folder>/<import id>-<32 random hex digits>.csv
//
// The tenant folder is derived from the tenant id (a hash, so no tenant id
// can name a path outside it), and the random part makes a file's name
// impossible to guess from its import id. Every access goes through an
// os.Root opened on the data directory, and a path is only opened for the
// tenant whose folder it is in. Folders are 0700 and files 0600.
//
// In distributed mode every process that receives uploads (http) or runs
// jobs (worker) must see the same data directory: shared storage such as
// an NFS or EFS mount.
type Files struct {
	dir  string
	root *os.Root
}

// OpenFiles opens (creating it when missing) the data directory dir.
func OpenFiles(dir string) (*Files, error) {
	if dir == "" {
		return nil, errors.New("bulkimport: a data directory is required")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("data directory %s: %w", dir, err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("data directory %s: %w", dir, err)
	}
	return &Files{dir: dir, root: root}, nil
}

// Close releases the directory handle.
func (f *Files) Close() error { return f.root.Close() }

// tenantFolder is the tenant's folder, relative to the data directory.
func tenantFolder(tenant domain.TenantID) string {
	sum := sha256.Sum256([]byte("notifyhub-tenant:" + string(tenant)))
	return "imports/t-" + hex.EncodeToString(sum[:16])
}

// Upload is a file stored for an import: Start turns it into one.
type Upload struct {
	ID       string // the id of the import it is for
	TenantID domain.TenantID
	Name     string // the uploaded file's name, cleaned, for people
	Path     string // relative to the data directory
	Size     int64
	SHA256   string // hex
	files    *Files
}

// Remove deletes the stored file (an upload that will not be imported).
func (u *Upload) Remove() error {
	if u == nil || u.files == nil {
		return nil
	}
	return u.files.remove(u.TenantID, u.Path)
}

// save streams r into a new file of the tenant's folder, hashing it on
// the way. More than max bytes is domain.ErrTooLarge; nothing is kept on
// any error.
func (f *Files) save(ctx context.Context, tenant domain.TenantID, name string, r io.Reader, max int64) (*Upload, error) {
	folder := tenantFolder(tenant)
	if err := f.root.MkdirAll(folder, 0o700); err != nil {
		return nil, fmt.Errorf("store upload: %w", err)
	}
	id := domain.NewID()
	rel := path.Join(folder, id+"-"+rand.Text()[:26]+".csv")
	part := rel + ".part"
	out, err := f.root.OpenFile(part, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("store upload: %w", err)
	}
	keep := false
	defer func() {
		if !keep {
			_ = out.Close()
			_ = f.root.Remove(part)
		}
	}()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(out, h), &ctxReader{ctx: ctx, r: io.LimitReader(r, max+1)})
	if err != nil {
		return nil, fmt.Errorf("store upload: %w", err)
	}
	if n > max {
		return nil, fmt.Errorf("the file is larger than %d bytes: %w", max, domain.ErrTooLarge)
	}
	if err := out.Sync(); err != nil {
		return nil, fmt.Errorf("store upload: %w", err)
	}
	if err := out.Close(); err != nil {
		return nil, fmt.Errorf("store upload: %w", err)
	}
	if err := f.root.Rename(part, rel); err != nil {
		return nil, fmt.Errorf("store upload: %w", err)
	}
	keep = true
	return &Upload{ID: id, TenantID: tenant, Name: cleanName(name), Path: rel, Size: n,
		SHA256: hex.EncodeToString(h.Sum(nil)), files: f}, nil
}

// open opens a stored file of the tenant for reading. A path outside the
// tenant's folder is refused, whatever the record says.
func (f *Files) open(tenant domain.TenantID, rel string) (*os.File, error) {
	if !f.owns(tenant, rel) {
		return nil, fmt.Errorf("file %q is not in the folder of tenant %s: %w", rel, tenant, domain.ErrPermanent)
	}
	file, err := f.root.Open(rel)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("the uploaded file %s is missing from the data directory %s (in distributed mode NOTIFYHUB_DATA_DIR must be storage shared by every http and worker process): %w",
			rel, f.dir, err)
	}
	return file, err
}

func (f *Files) owns(tenant domain.TenantID, rel string) bool {
	return filepath.IsLocal(rel) && path.Clean(rel) == rel &&
		strings.HasPrefix(rel, tenantFolder(tenant)+"/") && !strings.Contains(strings.TrimPrefix(rel, tenantFolder(tenant)+"/"), "/")
}

// remove deletes a stored file of the tenant; a missing one is fine.
func (f *Files) remove(tenant domain.TenantID, rel string) error {
	if !f.owns(tenant, rel) {
		return fmt.Errorf("file %q is not in the folder of tenant %s", rel, tenant)
	}
	err := f.root.Remove(rel)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove upload %s: %w", rel, err)
	}
	return nil
}

// cleanName keeps the base name of an uploaded file, printable and short.
func cleanName(name string) string {
	name = strings.ReplaceAll(name, "\\", "/")
	name = path.Base(name)
	name = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == 0xfffd {
			return -1
		}
		return r
	}, strings.ToValidUTF8(name, ""))
	if name == "." || name == "/" {
		name = ""
	}
	return clip(name, 200)
}

// ctxReader stops reading once ctx ends (a client gone, Ctrl-C).
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
