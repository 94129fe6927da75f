package notification

import (
	"context"

	"github.com/notifyhub/notifyhub/domain"
)

// CommitAsOneGroup sends the requests directly as one group commit, the
// way concurrent requests are grouped, with no fallback to the job:
// outcome i is request i's committed bulk or error. A request given an id
// in ids (when not "") uses it instead of a new one.
func (s *BulkService) CommitAsOneGroup(ctx context.Context, actor domain.Actor, ins []BulkRequest, ids []string) ([]Bulk, []error) {
	group := make([]*directSend, len(ins))
	for i, in := range ins {
		b, err := s.newBulk(actor, in)
		if err != nil {
			panic(err)
		}
		if i < len(ids) && ids[i] != "" {
			b.ID = ids[i]
		}
		size, _ := s.directSize(b)
		group[i] = &directSend{ctx: ctx, bulk: b, size: size, done: make(chan struct{})}
	}
	s.flush(group)
	bulks, errs := make([]Bulk, len(group)), make([]error, len(group))
	for i, m := range group {
		<-m.done
		bulks[i], errs[i] = m.result, m.err
	}
	return bulks, errs
}

// ErrAudienceTooLarge is what a direct send of a permission or all
// audience larger than InlineMax ends with (Request then queues the job).
var ErrAudienceTooLarge = errAudienceTooLarge
