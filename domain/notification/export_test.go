package notification

import (
	"context"
	"errors"

	"github.com/notifyhub/notifyhub/domain"
)

// CommitAsOneGroup sends the requests directly as one group commit, the
// way concurrent requests are grouped, with no fallback to the job:
// outcome i is request i's committed bulk or error. A request given an id
// in ids (when not "") uses it instead of a new one.
func (s *BulkService) CommitAsOneGroup(ctx context.Context, actor domain.Actor, ins []BulkRequest, ids []string) ([]Bulk, []error) {
	var group []*directSend
	bulks, errs := make([]Bulk, len(ins)), make([]error, len(ins))
	at := map[*directSend]int{}
	for i, in := range ins {
		b, err := s.newBulk(actor, in)
		if err != nil {
			panic(err)
		}
		if i < len(ids) && ids[i] != "" {
			b.ID = ids[i]
		}
		m, ok, err := s.newDirectSend(ctx, b)
		if err != nil {
			panic(err)
		}
		if !ok {
			bulks[i], errs[i] = b, ErrAudienceTooLarge
			continue
		}
		at[m] = i
		group = append(group, m)
	}
	if len(group) > 0 {
		s.flush(group)
	}
	for _, m := range group {
		<-m.done
		bulks[at[m]], errs[at[m]] = m.result, m.err
	}
	return bulks, errs
}

// ErrAudienceTooLarge is CommitAsOneGroup's outcome for a request that
// may not be sent directly (an audience larger than InlineMax: Request
// queues the job instead).
var ErrAudienceTooLarge = errors.New("audience larger than the direct-send limit")
