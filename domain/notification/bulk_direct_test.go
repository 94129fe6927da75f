package notification_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/notification"
)

// A direct send's bulk record tells the truth at once: completed, with
// unknown and other tenants' ids counted as failed, and no job queued.
func TestDirectSendRecordsItsOutcome(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, f fixture) {
		ctx := context.Background()
		require.NoError(t, f.store.UpsertUser(ctx, domain.User{TenantID: "globex", ID: "gus"}))
		d := &dispatcher{}
		bulk := notification.NewBulkService(f.store, f.svc, d, nil)
		b, err := bulk.Request(ctx, sender, notification.BulkRequest{
			UserIDs: []string{"bob", "ghost", "gus", "bob", "carol"}, Title: "Stock count"})
		require.NoError(t, err)
		require.Empty(t, d.jobs, "no job for a direct send")

		got, err := bulk.Get(ctx, "acme", b.ID)
		require.NoError(t, err)
		require.Equal(t, b, got, "the answer is what is stored")
		require.Equal(t, notification.BulkCompleted, got.Status)
		require.EqualValues(t, 4, got.Total, "duplicates count once")
		require.EqualValues(t, 2, got.Sent)
		require.EqualValues(t, 2, got.Failed)
		require.Equal(t, []notification.RecipientError{
			{UserID: "ghost", Message: "unknown user"}, {UserID: "gus", Message: "unknown user"},
		}, got.Errors)
		require.NotNil(t, got.StartedAt)
		require.NotNil(t, got.CompletedAt)

		require.Len(t, inbox(t, f, "acme", "bob"), 1)
		require.Len(t, inbox(t, f, "acme", "carol"), 1)
		require.Empty(t, inbox(t, f, "acme", "alice"), "not addressed")
		require.Empty(t, inbox(t, f, "globex", "gus"), "another tenant's user is not reached")
		require.Empty(t, inbox(t, f, "globex", "bob"), "another tenant's bob")
		_, err = f.store.GetUser(ctx, "acme", "ghost")
		require.ErrorIs(t, err, domain.ErrNotFound, "an unknown id does not become a user")
		_, err = bulk.Get(ctx, "globex", b.ID)
		require.ErrorIs(t, err, domain.ErrNotFound, "another tenant cannot read it")

		pushed := 0
		for _, u := range f.fan.all() {
			if u.Kind == domain.UpdateNotification && u.Notification.Title == "Stock count" {
				pushed++
			}
		}
		require.Equal(t, 2, pushed)

		// A stray run of the job finds it done.
		require.NoError(t, bulk.Send(ctx, "acme", b.ID))
		require.Len(t, inbox(t, f, "acme", "bob"), 1, "nobody is notified twice")
	})
}

// A permission audience up to InlineMax is sent directly too; one that is
// larger goes to the job. An all audience is one broadcast, sent directly
// at any size.
func TestDirectSendToPermissionUpToInlineMax(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, f fixture) {
		ctx := context.Background()
		d := &dispatcher{}
		bulk := notification.NewBulkService(f.store, f.svc, d, nil)
		b, err := bulk.Request(ctx, sender, notification.BulkRequest{All: true, Title: "Everyone"})
		require.NoError(t, err)
		require.Equal(t, notification.BulkCompleted, b.Status)
		require.EqualValues(t, 3, b.Total)
		require.EqualValues(t, 3, b.Sent)
		require.Empty(t, d.jobs)
		for _, u := range []domain.UserID{"alice", "bob", "carol"} {
			require.Len(t, inbox(t, f, "acme", u), 1, u)
		}
		require.Empty(t, inbox(t, f, "globex", "bob"))

		b, err = bulk.Request(ctx, sender, notification.BulkRequest{Permission: domain.PermInventoryAlerts, Title: "Alerts"})
		require.NoError(t, err)
		require.EqualValues(t, 2, b.Sent, "bob, and alice through admin")
		require.Len(t, inbox(t, f, "acme", "carol"), 1, "carol does not hold it")

		bulk.InlineMax = 1
		big, err := bulk.Request(ctx, sender, notification.BulkRequest{Permission: domain.PermInventoryAlerts, Title: "Later"})
		require.NoError(t, err)
		require.Equal(t, notification.BulkPending, big.Status, "over InlineMax: left to the job")
		require.Equal(t, []notification.BulkPayload{{BulkID: big.ID}}, d.jobs)
		stored, err := bulk.Get(ctx, "acme", big.ID)
		require.NoError(t, err)
		require.Equal(t, notification.BulkPending, stored.Status)
		require.Len(t, inbox(t, f, "acme", "alice"), 2, "not sent by the request")

		everyone, err := bulk.Request(ctx, sender, notification.BulkRequest{All: true, Title: "Everyone again"})
		require.NoError(t, err)
		require.Equal(t, notification.BulkCompleted, everyone.Status, "a broadcast is not bounded by InlineMax")
		require.EqualValues(t, 3, everyone.Sent)
		require.Len(t, d.jobs, 1, "no job for it")
		require.Len(t, inbox(t, f, "acme", "carol"), 2)
	})
}

// One member of a group that cannot be committed (its bulk id is taken)
// must not fail the others: they are committed one by one.
func TestDirectGroupWithABadMemberCommitsTheOthers(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, f fixture) {
		ctx := context.Background()
		bulk := notification.NewBulkService(f.store, f.svc, &dispatcher{}, nil)
		taken, err := bulk.Request(ctx, sender, notification.BulkRequest{UserIDs: []string{"carol"}, Title: "first"})
		require.NoError(t, err)

		// Three hold inventory.alerts: too many to send directly.
		require.NoError(t, f.store.UpsertUser(ctx, domain.User{TenantID: "acme", ID: "dave", Perms: []string{domain.PermInventoryAlerts}}))
		bulk.InlineMax = 2
		bulks, errs := bulk.CommitAsOneGroup(ctx, sender, []notification.BulkRequest{
			{UserIDs: []string{"bob"}, Title: "one"},
			{UserIDs: []string{"alice"}, Title: "clash"},
			{UserIDs: []string{"bob", "alice"}, Title: "two"},
			{Permission: domain.PermInventoryAlerts, Title: "alerts"},
		}, []string{"", taken.ID, "", ""})
		require.NoError(t, errs[0])
		require.ErrorIs(t, errs[1], domain.ErrConflict)
		require.NoError(t, errs[2])
		require.ErrorIs(t, errs[3], notification.ErrAudienceTooLarge, "left to the job, also when retried alone")
		_, err = bulk.Get(ctx, "acme", bulks[3].ID)
		require.Error(t, err, "not stored by the direct send")
		for _, i := range []int{0, 2} {
			got, err := bulk.Get(ctx, "acme", bulks[i].ID)
			require.NoError(t, err)
			require.Equal(t, notification.BulkCompleted, got.Status)
		}
		titles := func(u domain.UserID) []string {
			var out []string
			for _, n := range inbox(t, f, "acme", u) {
				out = append(out, n.Title)
			}
			return out
		}
		require.Equal(t, []string{"two", "one"}, titles("bob"))
		require.Equal(t, []string{"two"}, titles("alice"), "nothing of the failed member")
		stored, err := bulk.Get(ctx, "acme", taken.ID)
		require.NoError(t, err)
		require.Equal(t, "first", stored.Title, "the earlier bulk is untouched")
		for _, u := range f.fan.all() {
			require.NotEqual(t, "clash", u.Notification.Title, "a rolled-back send is never pushed")
		}
	})
}

// Concurrent direct sends to one user, committed in whatever groups they
// fall into: seqs follow commit order without gaps or repeats, each is
// pushed once, in seq order, with the unread count right after it.
func TestDirectSendsToOneUserKeepCommitOrder(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, f fixture) {
		ctx := context.Background()
		d := &dispatcher{}
		bulk := notification.NewBulkService(f.store, f.svc, d, nil)
		bulk.GroupMax = 5 // several groups, some of several requests
		const n = 40
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() {
				_, errs[i] = bulk.Request(ctx, sender, notification.BulkRequest{
					UserIDs: []string{"bob"}, Title: fmt.Sprintf("n%d", i)})
			})
		}
		wg.Wait()
		for _, err := range errs {
			require.NoError(t, err)
		}
		require.Empty(t, d.jobs)

		items := inbox(t, f, "acme", "bob")
		require.Len(t, items, n)
		for i, it := range items { // newest first
			require.EqualValues(t, n-i, it.Seq)
		}
		var pushed []domain.InboxUpdate
		for _, u := range f.fan.all() {
			if u.UserID == "bob" && u.TenantID == "acme" {
				pushed = append(pushed, u)
			}
		}
		require.Len(t, pushed, n, "each pushed once")
		seen := map[string]bool{}
		for i, u := range pushed {
			require.EqualValues(t, i+1, u.Seq, "pushed in commit order")
			require.Equal(t, i+1, u.UnreadCount)
			require.False(t, seen[u.Notification.ID])
			seen[u.Notification.ID] = true
		}
	})
}

// The cache of known recipients is per tenant: globex's gus, known from a
// globex send, is still unknown to acme.
func TestKnownRecipientsAreKnownPerTenant(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, f fixture) {
		ctx := context.Background()
		require.NoError(t, f.store.UpsertUser(ctx, domain.User{TenantID: "globex", ID: "gus"}))
		bulk := notification.NewBulkService(f.store, f.svc, &dispatcher{}, nil)
		globex := domain.Actor{TenantID: "globex", UserID: "boss", Perms: []string{domain.PermAdmin}}
		for range 2 { // the second one is served from the cache
			b, err := bulk.Request(ctx, globex, notification.BulkRequest{UserIDs: []string{"gus", "bob"}, Title: "globex"})
			require.NoError(t, err)
			require.EqualValues(t, 2, b.Sent)
		}
		b, err := bulk.Request(ctx, sender, notification.BulkRequest{UserIDs: []string{"gus", "bob"}, Title: "acme"})
		require.NoError(t, err)
		require.EqualValues(t, 1, b.Sent, "acme's bob only")
		require.Equal(t, []notification.RecipientError{{UserID: "gus", Message: "unknown user"}}, b.Errors)
		require.Len(t, inbox(t, f, "globex", "gus"), 2)
		require.Len(t, inbox(t, f, "acme", "bob"), 1)
		_, err = f.store.GetUser(ctx, "acme", "gus")
		require.ErrorIs(t, err, domain.ErrNotFound)
	})
}

// lostAnswer is a store whose direct write lands but reports a failure,
// as when the answer is lost to a timeout after the commit.
type lostAnswer struct {
	notification.BulkStore
	lost atomic.Int32
}

func (s *lostAnswer) InsertDirect(ctx context.Context, bs []notification.Bulk, ns []*domain.Notification) (map[notification.InboxKey]int, error) {
	if _, err := s.BulkStore.InsertDirect(ctx, bs, ns); err != nil {
		return nil, err
	}
	s.lost.Add(1)
	return nil, errors.New("connection reset after the commit")
}

// A direct send that landed though its answer was lost is not sent again
// by the job the request falls back to: the bulk id is taken, and the
// request answers with what was stored.
func TestDirectSendWithALostAnswerIsNotSentTwice(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, f fixture) {
		ctx := context.Background()
		st := &lostAnswer{BulkStore: f.store}
		d := &dispatcher{}
		bulk := notification.NewBulkService(st, f.svc, d, nil)
		b, err := bulk.Request(ctx, sender, notification.BulkRequest{UserIDs: []string{"bob"}, Title: "once"})
		require.NoError(t, err)
		require.EqualValues(t, 1, st.lost.Load(), "the write landed once (the retry alone found its id taken)")
		require.Equal(t, notification.BulkCompleted, b.Status)
		require.EqualValues(t, 1, b.Sent)
		require.Empty(t, d.jobs, "no job queued")
		require.Len(t, inbox(t, f, "acme", "bob"), 1, "notified once")
	})
}

// holdingFanout holds every push of a notification titled title until
// release is closed, whatever its context says (a broker that hangs), and
// hands the rest to next.
type holdingFanout struct {
	title   string
	held    chan struct{} // one value per push held
	release chan struct{}
	next    notification.Fanout
}

func (h *holdingFanout) Publish(ctx context.Context, u domain.InboxUpdate) error {
	if u.Notification != nil && u.Notification.Title == h.title {
		h.held <- struct{}{}
		<-h.release
	}
	return h.next.Publish(ctx, u)
}

// A send to several users never holds a personal send up: with eight list
// sends stuck pushing (in every lane they could take), a personal send
// still commits and is pushed.
func TestPersonalSendPassesStuckListSends(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, f fixture) {
		ctx := context.Background()
		fan := &holdingFanout{title: "list", held: make(chan struct{}, 64), release: make(chan struct{}), next: f.fan}
		bulk := notification.NewBulkService(f.store, notification.NewService(f.store, fan, nil, nil), &dispatcher{}, nil)
		var lists sync.WaitGroup
		for range 8 {
			lists.Go(func() {
				_, err := bulk.Request(ctx, sender, notification.BulkRequest{UserIDs: []string{"bob", "carol"}, Title: "list"})
				assert.NoError(t, err)
			})
		}
		<-fan.held // a list send's push is stuck
		personal := make(chan error, 1)
		go func() {
			_, err := bulk.Request(ctx, sender, notification.BulkRequest{UserIDs: []string{"alice"}, Title: "personal"})
			personal <- err
		}()
		select {
		case err := <-personal:
			require.NoError(t, err)
		case <-time.After(30 * time.Second):
			close(fan.release)
			t.Fatal("the personal send waited behind the stuck list sends")
		}
		items := inbox(t, f, "acme", "alice")
		require.Len(t, items, 1)
		require.Equal(t, "personal", items[0].Title)
		pushed := 0
		for _, u := range f.fan.all() {
			if u.UserID == "alice" && u.Notification != nil && u.Notification.Title == "personal" {
				pushed++
			}
		}
		require.Equal(t, 1, pushed, "pushed while the list sends are stuck")

		close(fan.release)
		lists.Wait()
		require.Len(t, inbox(t, f, "acme", "bob"), 8, "every list send lands once released")
	})
}

// Every group commit of direct sends is reported once its members are
// answered: sends to one user in the personal lane, lists in the group
// lane, each request in exactly one group.
func TestGroupCommitsAreReported(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, f fixture) {
		ctx := context.Background()
		bulk := notification.NewBulkService(f.store, f.svc, &dispatcher{}, nil)
		var (
			mu      sync.Mutex
			reqs    = map[string]int{}
			commits []notification.GroupCommit
		)
		bulk.OnGroupCommit = func(c notification.GroupCommit) {
			mu.Lock()
			defer mu.Unlock()
			reqs[c.Lane] += c.Requests
			commits = append(commits, c)
		}
		var wg sync.WaitGroup
		for i := range 20 {
			wg.Go(func() {
				_, err := bulk.Request(ctx, sender, notification.BulkRequest{UserIDs: []string{"bob"}, Title: fmt.Sprintf("p%d", i)})
				assert.NoError(t, err)
			})
		}
		for i := range 3 {
			wg.Go(func() {
				_, err := bulk.Request(ctx, sender, notification.BulkRequest{UserIDs: []string{"bob", "carol"}, Title: fmt.Sprintf("l%d", i)})
				assert.NoError(t, err)
			})
		}
		wg.Wait()
		// The last report follows its members' answers.
		require.Eventually(t, func() bool {
			mu.Lock()
			defer mu.Unlock()
			return reqs["personal"]+reqs["group"] >= 23
		}, 10*time.Second, time.Millisecond)
		mu.Lock()
		defer mu.Unlock()
		require.Equal(t, map[string]int{"personal": 20, "group": 3}, reqs)
		for _, c := range commits {
			require.Positive(t, c.Requests, "%+v", c)
			require.GreaterOrEqual(t, c.Waited, time.Duration(0), "%+v", c)
			require.Positive(t, c.Took, "%+v", c)
		}
		require.Len(t, inbox(t, f, "acme", "bob"), 23)
	})
}
