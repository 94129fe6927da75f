package invoice

// SetPageSize makes the detector page through small pages, so tests cross
// page boundaries with few rows.
func (d *OverdueDetector) SetPageSize(n int) { d.pageSize = n }
