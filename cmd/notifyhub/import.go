package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/notifyhub/notifyhub/cmd/notifyhub/app"
	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/bulkimport"
)

const importUsage = `usage: notifyhub import FILE --type products|customers|vendors|inventory --tenant T
         [--mapping '{"sku": "SKU", "name": "Product Name", "price": "Price"}' | --mapping-file F]
         [--user U] [--no-wait] [--data-dir D]

Copies FILE (CSV with a header row) into the data directory, queues its
import for tenant T exactly as POST /api/v1/imports does, then shows the
progress on stderr until the import completes (exit status 0) or fails
(exit status 1). A worker (notifyhub serve or worker) runs the import;
this command needs only the database and the data directory, which must
be the one the workers use (NOTIFYHUB_DATA_DIR). --user names who is
told in the notification center when it ends.`

// importFlags binds the data directory (reports and imports) and the
// upload limit, shared by serve, worker and import; the returned check reports a malformed
// NOTIFYHUB_IMPORT_MAX_BYTES once the flags are parsed.
func importFlags(fs *flag.FlagSet, cfg *app.Config) (check func() error) {
	fs.StringVar(&cfg.DataDir, "data-dir", os.Getenv("NOTIFYHUB_DATA_DIR"),
		"directory for report files and uploaded import files (default notifyhub-data next to the SQLite file, or in the working directory); in distributed mode storage shared by every worker and web node")
	limit := int64(bulkimport.DefaultMaxFileBytes)
	var envErr error
	if v := os.Getenv("NOTIFYHUB_IMPORT_MAX_BYTES"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			envErr = fmt.Errorf("NOTIFYHUB_IMPORT_MAX_BYTES: %q is not a positive number of bytes", v)
		}
		limit = n
	}
	fs.Int64Var(&cfg.MaxImportBytes, "import-max-bytes", limit, "largest import file accepted, in bytes")
	return func() error {
		given := false
		fs.Visit(func(f *flag.Flag) { given = given || f.Name == "import-max-bytes" })
		if envErr != nil && !given {
			return envErr
		}
		if cfg.MaxImportBytes <= 0 {
			return errors.New("--import-max-bytes must be positive")
		}
		return nil
	}
}

// importCmd runs `notifyhub import`.
func importCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprintln(stderr, importUsage); fs.PrintDefaults() }
	var cfg app.Config
	level := baseFlags(fs, &cfg)
	checkImport := importFlags(fs, &cfg)
	typ := fs.String("type", "", "what the file holds: products, customers, vendors or inventory (required)")
	tenant := fs.String("tenant", "", "tenant to import into (required)")
	user := fs.String("user", "", "user the import runs as and who is notified when it ends")
	mapping := fs.String("mapping", "", `our field → CSV header, as JSON: {"sku": "SKU", ...} (default: columns named like the fields)`)
	mappingFile := fs.String("mapping-file", "", "read the mapping from this JSON file")
	noWait := fs.Bool("no-wait", false, "print the import id and exit without waiting")
	interval := fs.Duration("poll", 500*time.Millisecond, "how often to read the progress")
	// FILE may come before the flags (the usual order) or after them.
	var file string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		file, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if file == "" && fs.NArg() > 0 {
		file = fs.Arg(0)
		if err := fs.Parse(fs.Args()[1:]); err != nil {
			return err
		}
	}
	if err := checkImport(); err != nil {
		return fmt.Errorf("import: %w", err)
	}
	switch {
	case file == "":
		fmt.Fprintln(stderr, importUsage)
		return errors.New("import: name the CSV file to import")
	case fs.NArg() > 0:
		return fmt.Errorf("import: unexpected arguments %q", fs.Args())
	case !domain.ValidExternalID(*tenant):
		return errors.New("import: --tenant is required (letters, digits, . _ @ : -; at most 128)")
	case *user != "" && !domain.ValidExternalID(*user):
		return errors.New("import: --user must be a user id (letters, digits, . _ @ : -; at most 128)")
	case !bulkimport.Type(*typ).Valid():
		return errors.New("import: --type must be products, customers, vendors or inventory")
	case *mapping != "" && *mappingFile != "":
		return errors.New("import: give --mapping or --mapping-file, not both")
	case *interval <= 0:
		return errors.New("import: --poll must be positive")
	}
	rawMapping := []byte(*mapping)
	if *mappingFile != "" {
		var err error
		if rawMapping, err = os.ReadFile(*mappingFile); err != nil {
			return fmt.Errorf("import: --mapping-file: %w", err)
		}
	}
	logger, err := newLogger(stderr, *level)
	if err != nil {
		return err
	}
	cfg.Logger = logger
	f, err := os.Open(file)
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	defer f.Close()

	tool, err := app.OpenImportTool(ctx, cfg)
	if err != nil {
		return err
	}
	defer tool.Close()
	// The operator acts for the tenant: the import runs as --user (named
	// in the events it writes), or as the system.
	actor := domain.SystemActor(domain.TenantID(*tenant))
	if *user != "" {
		actor.UserID = domain.UserID(*user)
	}
	upload, err := tool.Imports.Receive(ctx, actor, filepath.Base(file), f)
	if err != nil {
		return fmt.Errorf("import: %w", describeErr(err, tool.Imports.MaxFileBytes()))
	}
	im, err := tool.Imports.Start(ctx, actor, bulkimport.StartInput{Type: *typ, Mapping: rawMapping, Upload: upload})
	if err != nil {
		return fmt.Errorf("import: %w", describeErr(err, tool.Imports.MaxFileBytes()))
	}
	fmt.Fprintf(stdout, "import %s queued\n", im.ID)
	if *noWait {
		return nil
	}
	return watchImport(ctx, tool.Imports, im, *interval, stdout, stderr)
}

// describeErr spells out the errors an operator can fix.
func describeErr(err error, max int64) error {
	var v *domain.ValidationError
	switch {
	case errors.As(err, &v):
		return fmt.Errorf("the import was refused: %s", strings.TrimPrefix(v.Error(), "invalid input: "))
	case errors.Is(err, domain.ErrTooLarge):
		return fmt.Errorf("the file is larger than the limit of %d bytes (--import-max-bytes)", max)
	}
	return err
}

// importReader is what watching needs.
type importReader interface {
	Get(ctx context.Context, tenant domain.TenantID, id string) (bulkimport.Import, error)
}

// watchImport shows the import's progress until it ends.
func watchImport(ctx context.Context, imports importReader, im bulkimport.Import, every time.Duration, stdout, stderr io.Writer) error {
	bar := newProgressBar(stderr)
	tick := time.NewTicker(every)
	defer tick.Stop()
	queued := time.Now()
	for {
		cur, err := imports.Get(ctx, im.TenantID, im.ID)
		if err != nil {
			return err
		}
		bar.show(cur, time.Since(queued))
		switch cur.Status {
		case bulkimport.StatusCompleted:
			bar.done()
			summarize(stdout, stderr, cur)
			return nil
		case bulkimport.StatusFailed:
			bar.done()
			summarize(stdout, stderr, cur)
			return fmt.Errorf("import %s failed: %s", cur.ID, cur.LastError)
		}
		select {
		case <-ctx.Done():
			bar.done()
			fmt.Fprintf(stderr, "stopped watching; the import goes on: GET /api/v1/imports/%s\n", im.ID)
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// summarize prints the outcome on stdout and the first failed rows on
// stderr.
func summarize(stdout, stderr io.Writer, im bulkimport.Import) {
	fmt.Fprintf(stdout, "import %s %s: %d rows, %d imported, %d failed", im.ID, im.Status, im.TotalRows, im.Imported, im.Failed)
	if im.Skipped > 0 {
		fmt.Fprintf(stdout, " (%d already imported from this file before)", im.Skipped)
	}
	fmt.Fprintln(stdout)
	const shown = 20
	for i, e := range im.Errors {
		if i == shown {
			fmt.Fprintf(stderr, "... and %d more failed rows (GET /api/v1/imports/%s lists the first %d)\n",
				im.Failed-shown, im.ID, bulkimport.MaxStoredErrors)
			break
		}
		fmt.Fprintf(stderr, "row %d: %s\n", e.Row, oneLine(e.Message, 300))
	}
}
