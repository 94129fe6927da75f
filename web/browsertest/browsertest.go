package browsertest

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// chromiumPath finds Chromium: NOTIFYHUB_TEST_CHROMIUM when set, else
// Debian's on PATH (.ci/run installs it). Without one the browser tests
// skip, unless NOTIFYHUB_TEST_REQUIRE_ALL is set (as in CI), where a
// missing browser is a failure, not a silent skip.
func chromiumPath(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("NOTIFYHUB_TEST_CHROMIUM"); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("NOTIFYHUB_TEST_CHROMIUM=%s: %v", p, err)
		}
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	const msg = "no Chromium on PATH (apt-get install -y chromium, or set NOTIFYHUB_TEST_CHROMIUM)"
	if os.Getenv("NOTIFYHUB_TEST_REQUIRE_ALL") != "" {
		t.Fatal(msg + " and NOTIFYHUB_TEST_REQUIRE_ALL is set")
	}
	t.Skip(msg + ": skipping the browser test")
	return ""
}

// New starts a headless Chromium of its own for t and returns the
// context of its tab, bounded to a minute. The flags keep it off the
// network (this machine's network is closed: no updates, sync or QUIC
// probes) and its profile in a temporary directory.
func New(t testing.TB) context.Context {
	t.Helper()
	exe := chromiumPath(t)
	profile := t.TempDir() // removed after the browser stops (cleanups run last-in first-out)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.NoSandbox,
		chromedp.UserDataDir(profile),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	t.Cleanup(cancelBrowser)
	// The first run starts the browser and must not carry a timeout (it
	// would stop the browser); later steps are bounded.
	require.NoError(t, chromedp.Do(bctx, chromedp.Navigate("about:blank")))
	ctx, cancel := context.WithTimeout(bctx, 90*time.Second)
	t.Cleanup(cancel)
	return ctx
}
