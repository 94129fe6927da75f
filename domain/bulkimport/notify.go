package bulkimport

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/notification"
)

var typeLabel = map[Type]string{Products: "Product", Customers: "Customer", Vendors: "Vendor", Inventory: "Stock"}

// notify tells the importing user, in the transaction carried by ctx, how
// the import ended: ImportCompletedNotification, success when every row
// was imported, warning when some failed, critical when the import
// failed. Nobody is told when no known user asked for it (a CLI import
// without --user, a user the tenant does not know).
func (s *Service) notify(ctx context.Context, im Import) error {
	user := im.RequestedBy
	if user == "" || user == domain.SystemUserID {
		return nil
	}
	if _, err := s.store.GetUser(ctx, im.TenantID, user); err != nil {
		if errors.Is(err, domain.ErrNotFound) {
			return nil
		}
		return err
	}
	_, err := s.notifier.SendToUsers(ctx, im.TenantID, []domain.UserID{user}, im.draft())
	return err
}

func (im Import) draft() notification.Draft {
	label := typeLabel[im.Type]
	file := im.FileName
	if file == "" {
		file = "the file"
	}
	d := notification.Draft{
		Type:      notification.TypeImportCompleted,
		ActionURL: "/api/v1/imports/" + im.ID,
		Data: map[string]any{
			"import_id": im.ID, "type": im.Type, "status": im.Status, "total_rows": im.TotalRows,
			"imported_rows": im.Imported, "failed_rows": im.Failed, "skipped_rows": im.Skipped,
		},
	}
	switch {
	case im.Status == StatusFailed:
		d.Severity = domain.SeverityCritical
		d.Title = label + " import failed"
		d.Body = fmt.Sprintf("%s: stopped after %s of %s rows (%s imported, %s failed): %s",
			file, count(im.ResumeRow), count(im.TotalRows), count(im.Imported), count(im.Failed), im.LastError)
	case im.Failed > 0:
		d.Severity = domain.SeverityWarning
		d.Title = fmt.Sprintf("%s import completed with %s failed %s", label, count(im.Failed), plural(im.Failed, "row", "rows"))
		d.Body = fmt.Sprintf("%s: %s of %s rows imported, %s failed; the import lists each failed row and why.",
			file, count(im.Imported), count(im.TotalRows), count(im.Failed))
	default:
		d.Severity = domain.SeveritySuccess
		d.Title = label + " import completed"
		d.Body = fmt.Sprintf("%s: %s %s imported.", file, count(im.Imported), plural(im.Imported, "row", "rows"))
	}
	d.Title = notification.Clip(d.Title, notification.MaxTitleLen)
	d.Body = notification.Clip(d.Body, notification.MaxBodyLen)
	return d
}

// count formats n with thousands separators: 1,234,567.
func count(n int64) string {
	s := strconv.FormatInt(n, 10)
	if n < 0 {
		return s
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func plural(n int64, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
