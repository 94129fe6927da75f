package jobs

import (
	"context"
	"encoding/json"
	"time"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/workers/runner"
)

// PingJob is the name of the job that does nothing but succeed.
const PingJob = "queue.ping"

// Ping is a job type whose handler does nothing and succeeds: `notifyhub
// queue ping` dispatches it to check a queue end to end (outbox, relay,
// stream, a worker, the acknowledgement), and it is the no-op job the
// job-throughput benchmark runs. One try and no backoff: a ping that
// cannot succeed says the path is broken, and retrying it proves nothing.
func Ping() Type {
	return Type{
		Name:    PingJob,
		Queue:   runner.QueueDefault,
		Tries:   1,
		Timeout: 10 * time.Second,
		Handle:  func(context.Context, domain.TenantID, json.RawMessage) error { return nil },
	}
}
