package reportfs_test

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/report/reportfs"
)

// hostileTenants are tenant ids that would escape or collide in a naive
// layout. Tokens never carry most of them, but the folder must not depend
// on that.
var hostileTenants = []domain.TenantID{
	"..", ".", "../etc", "../../../../tmp/x", "/etc/passwd", "a/../../b", `..\..\windows`, "C:", "nul",
	"acme/../globex", "tenant\x00nul", "~root", "%2e%2e%2f", domain.TenantID(strings.Repeat("A", 128)), "ACME", "acme",
}

func files(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	require.NoError(t, filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(root, path)
			out = append(out, filepath.ToSlash(rel))
		}
		return err
	}))
	return out
}

func write(t *testing.T, d *reportfs.Dir, tenant domain.TenantID, id, body string) string {
	t.Helper()
	rel, err := d.Write(context.Background(), tenant, id, func(w io.Writer) error {
		_, err := io.WriteString(w, body)
		return err
	})
	require.NoError(t, err)
	return rel
}

func read(t *testing.T, d *reportfs.Dir, tenant domain.TenantID, id string) string {
	t.Helper()
	f, _, err := d.Open(context.Background(), tenant, id)
	require.NoError(t, err)
	defer f.Close()
	b, err := io.ReadAll(f)
	require.NoError(t, err)
	return string(b)
}

func TestTenantFoldersNeverEscapeOrCollide(t *testing.T) {
	t.Parallel()
	seen := map[string]domain.TenantID{}
	for _, tenant := range hostileTenants {
		f := reportfs.TenantFolder(tenant)
		require.NotContains(t, f, "/", tenant)
		require.NotContains(t, f, `\`, tenant)
		require.NotContains(t, f, "\x00", tenant)
		require.NotEqual(t, ".", f)
		require.NotEqual(t, "..", f)
		require.LessOrEqual(t, len(f), 97, "folder names stay short")
		require.Regexp(t, `^[a-z0-9_-]+-[0-9a-f]{32}$`, f)
		prev, dup := seen[f]
		require.False(t, dup, "%q and %q share a folder", prev, tenant)
		seen[f] = tenant
	}
	require.True(t, strings.HasPrefix(reportfs.TenantFolder("acme-eu.1"), "acme-eu_1-"), "readable for operators")
}

func TestWriteStaysInTheTenantFolder(t *testing.T) {
	t.Parallel()
	parent := t.TempDir()
	root := filepath.Join(parent, "data")
	d, err := reportfs.New(root)
	require.NoError(t, err)
	id := domain.NewID()
	var want []string
	for _, tenant := range hostileTenants {
		rel := write(t, d, tenant, id, "report of "+string(tenant))
		require.Equal(t, "reports/"+reportfs.TenantFolder(tenant)+"/"+id+".json", rel)
		want = append(want, rel)
	}
	require.ElementsMatch(t, want, files(t, root))
	entries, err := os.ReadDir(parent)
	require.NoError(t, err)
	require.Len(t, entries, 1, "nothing was written beside the data directory")
	for _, tenant := range hostileTenants {
		require.Equal(t, "report of "+string(tenant), read(t, d, tenant, id), "each tenant reads its own file")
	}
	_, _, err = d.Open(context.Background(), "globex", id)
	require.ErrorIs(t, err, domain.ErrNotFound, "another tenant's id finds nothing")
}

func TestWriteReplacesAtomically(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	d, err := reportfs.New(root)
	require.NoError(t, err)
	id := domain.NewID()
	write(t, d, "acme", id, `{"v": 1}`)
	write(t, d, "acme", id, `{"v": 2}`)
	require.Equal(t, `{"v": 2}`, read(t, d, "acme", id))

	// A write that fails half way leaves the previous file whole and no
	// temporary file behind.
	_, err = d.Write(context.Background(), "acme", id, func(w io.Writer) error {
		_, _ = io.WriteString(w, `{"v": 3, "half`)
		return errors.New("disk full")
	})
	require.ErrorContains(t, err, "disk full")
	require.Equal(t, `{"v": 2}`, read(t, d, "acme", id))
	require.Equal(t, []string{"reports/" + reportfs.TenantFolder("acme") + "/" + id + ".json"}, files(t, root))

	// So does a write cut short by its context (the job's timeout).
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = d.Write(ctx, "acme", id, func(w io.Writer) error {
		_, err := w.Write(make([]byte, 1<<20))
		return err
	})
	require.ErrorIs(t, err, context.Canceled)
	require.Equal(t, `{"v": 2}`, read(t, d, "acme", id))
	require.Len(t, files(t, root), 1)
}

func TestOpenMissingAndBadInput(t *testing.T) {
	t.Parallel()
	d, err := reportfs.New(filepath.Join(t.TempDir(), "not-yet"))
	require.NoError(t, err)
	_, _, err = d.Open(context.Background(), "acme", domain.NewID())
	require.ErrorIs(t, err, domain.ErrNotFound, "before the first write the folder does not exist")
	for _, id := range []string{"", "../../etc/passwd", "x.json", domain.NewID() + "/.."} {
		_, err := d.Write(context.Background(), "acme", id, func(io.Writer) error { return nil })
		var v *domain.ValidationError
		require.ErrorAs(t, err, &v, id)
		_, _, err = d.Open(context.Background(), "acme", id)
		require.ErrorAs(t, err, &v, id)
	}
	_, err = d.Write(context.Background(), "", domain.NewID(), func(io.Writer) error { return nil })
	var v *domain.ValidationError
	require.ErrorAs(t, err, &v, "a tenant is required")
	_, err = reportfs.New(" ")
	require.Error(t, err)
}

// A symbolic link planted in the data directory (say, by another tenant's
// misconfigured volume) does not lead writes or reads out of it.
func TestSymlinksDoNotLeadOut(t *testing.T) {
	t.Parallel()
	outside := t.TempDir()
	root := t.TempDir()
	d, err := reportfs.New(root)
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(filepath.Join(root, "reports"), 0o750))
	require.NoError(t, os.Symlink(outside, filepath.Join(root, "reports", reportfs.TenantFolder("acme"))))
	_, err = d.Write(context.Background(), "acme", domain.NewID(), func(w io.Writer) error {
		_, err := io.WriteString(w, "secret")
		return err
	})
	require.Error(t, err)
	entries, err := os.ReadDir(outside)
	require.NoError(t, err)
	require.Empty(t, entries, "nothing was written through the link")

	id := domain.NewID()
	require.NoError(t, os.WriteFile(filepath.Join(outside, id+".json"), []byte("outside"), 0o600))
	_, _, err = d.Open(context.Background(), "acme", id)
	require.Error(t, err, "nothing is read through the link")
}
