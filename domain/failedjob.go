package domain

import (
	"encoding/json"
	"time"
)

// FailedJob is a listener run or job that used up its tries. It keeps what
// is needed to run it again: the queue (or stream topic and group), the job
// or listener name and the original payload.
type FailedJob struct {
	ID       string          `json:"id"` // uuid v7
	Queue    string          `json:"queue"`
	Job      string          `json:"job"`
	TenantID TenantID        `json:"tenant_id"`
	Payload  json.RawMessage `json:"payload"`
	Attempts int             `json:"attempts"`
	Error    string          `json:"error"`
	FailedAt time.Time       `json:"failed_at"`
}
