package hub

import (
	"context"
	"time"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/hub/gather"
)

// headReads gathers the catch-up reads of sockets opened without since
// (the bulk of a connection storm) into one InboxHeads call: while one
// batch is in the database the next one gathers. A batch is one query, so
// it takes one History slot of the node-wide limit, in turn with the
// other readers; the sockets waiting for it take none. A batch is thus as
// large as the storm makes it, not bounded by MaxConcurrentRefills: fewer,
// larger queries, and no socket queues for a slot behind its own batch.
type headReads struct {
	src     InboxHeadsReader
	rec     InboxHeadsRecorder // src, when it can record users; else nil
	timeout time.Duration      // of one call
	acquire func() error       // takes a History slot
	release func()
	batches *gather.Batcher[*headRead]
}

func newHeadReads(src InboxHeadsReader, timeout time.Duration, acquire func() error, release func()) *headReads {
	r := &headReads{src: src, timeout: timeout, acquire: acquire, release: release}
	r.rec, _ = src.(InboxHeadsRecorder)
	r.batches = gather.New(r.readBatch)
	return r
}

// headRead is one socket's request; its results are set before done is
// closed.
type headRead struct {
	key    userKey
	user   *domain.User // to record first, or nil
	maxSeq int64
	unread int
	err    error
	done   chan struct{}
}

// read returns the user's latest seq and unread count, after recording
// user when it is not nil (only with rec). It gives up when ctx ends (a
// halt or the History timeout); the batch goes on without it, so user may
// be recorded all the same.
func (r *headReads) read(ctx context.Context, key userKey, user *domain.User) (int64, int, error) {
	req := &headRead{key: key, user: user, done: make(chan struct{})}
	r.batches.Add(req)
	select {
	case <-req.done:
		return req.maxSeq, req.unread, req.err
	case <-ctx.Done():
		return 0, 0, ctx.Err()
	}
}

// readBatch reads a batch in one call, under one History slot. The call
// serves several sockets, so none of their contexts may cancel it: it has
// a HistoryTimeout of its own, and a socket that gives up meanwhile only
// stops waiting for it.
func (r *headReads) readBatch(batch []*headRead) {
	tenants, users := make([]domain.TenantID, len(batch)), make([]domain.UserID, len(batch))
	var record []domain.User
	for i, req := range batch {
		tenants[i], users[i] = req.key.tenant, req.key.user
		if req.user != nil {
			record = append(record, *req.user)
		}
	}
	var (
		maxSeqs []int64
		unread  []int
	)
	err := r.acquire()
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), r.timeout)
		if len(record) > 0 {
			maxSeqs, unread, err = r.rec.RecordInboxHeads(ctx, record, tenants, users)
		} else {
			maxSeqs, unread, err = r.src.InboxHeads(ctx, tenants, users)
		}
		cancel()
		r.release()
	}
	for i, req := range batch {
		if err != nil {
			req.err = err
		} else {
			req.maxSeq, req.unread = maxSeqs[i], unread[i]
		}
		close(req.done)
	}
}
