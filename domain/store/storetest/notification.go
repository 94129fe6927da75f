package storetest

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/notification"
	"github.com/notifyhub/notifyhub/domain/store/sqlstore"
)

func newNotification(tenant domain.TenantID, user domain.UserID, title string) *domain.Notification {
	return &domain.Notification{
		ID:        domain.NewID(),
		TenantID:  tenant,
		UserID:    user,
		Type:      "LowStockNotification",
		Severity:  domain.SeverityWarning,
		Title:     title,
		Body:      "body of " + title,
		ActionURL: "/products/1",
		Data:      []byte(`{"product_id": "p-1", "on_hand": 3, "tags": ["a", "b"]}`),
		CreatedAt: at(0),
	}
}

// insertNotifications stores n notifications for the user and returns them
// in insertion (seq) order.
func insertNotifications(t *testing.T, s *sqlstore.Store, tenant domain.TenantID, user domain.UserID, n int) []*domain.Notification {
	t.Helper()
	out := make([]*domain.Notification, n)
	for i := range n {
		out[i] = newNotification(tenant, user, "note")
		require.NoError(t, s.InsertNotification(ctxFor(t), out[i]))
	}
	return out
}

func notificationIDs[N domain.Notification | *domain.Notification](ns []N) []string {
	ids := make([]string, len(ns))
	for i, n := range ns {
		switch v := any(n).(type) {
		case domain.Notification:
			ids[i] = v.ID
		case *domain.Notification:
			ids[i] = v.ID
		}
	}
	return ids
}

func reversed(ids []string) []string {
	out := slices.Clone(ids)
	slices.Reverse(out)
	return out
}

var notificationTests = map[string]func(t *testing.T, s *sqlstore.Store){
	"LockInboxHoldsInsertsOfThatUser": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		require.NoError(t, s.UpsertUser(ctx, domain.User{TenantID: tenantA, ID: "u1"}))
		locked := make(chan struct{})
		release := make(chan struct{})
		txDone := make(chan error, 1)
		go func() {
			txDone <- s.InTx(ctx, func(ctx context.Context) error {
				if err := s.LockInbox(ctx, tenantA, "u1"); err != nil {
					return err
				}
				close(locked)
				<-release
				return nil
			})
		}()
		<-locked
		inserted := make(chan error, 1)
		go func() {
			n := domain.Notification{ID: domain.NewID(), TenantID: tenantA, UserID: "u1", Type: "AlertNotification",
				Severity: domain.SeverityInfo, Title: "x", Data: []byte("{}"), CreatedAt: time.Now()}
			inserted <- s.InsertNotification(ctx, &n)
		}()
		select {
		case err := <-inserted:
			t.Fatalf("an insert for a locked inbox went through: %v", err)
		case <-time.After(100 * time.Millisecond):
			// Still waiting for the lock, as it should: no event marks
			// "blocked on a lock", so this bounded wait is the check.
		}
		close(release)
		require.NoError(t, <-txDone)
		require.NoError(t, <-inserted)
		// Unknown users have nothing to lock, which is not an error.
		require.NoError(t, s.InTx(ctx, func(ctx context.Context) error { return s.LockInbox(ctx, tenantA, "nobody") }))
	},
	"InsertBatchAssignsConsecutiveSeqs": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		// userA has history; userB is unknown until now; userA twice.
		insertNotifications(t, s, tenantA, userA, 2)
		insertNotifications(t, s, tenantB, userB, 5) // same user id, other tenant
		batch := []*domain.Notification{
			newNotification(tenantA, userA, "a3"), newNotification(tenantA, userB, "b1"),
			newNotification(tenantA, userA, "a4"), newNotification(tenantA, "u-new", "n1"),
		}
		require.NoError(t, s.InsertNotifications(ctx, batch))
		require.Equal(t, []int64{3, 1, 4, 1}, []int64{batch[0].Seq, batch[1].Seq, batch[2].Seq, batch[3].Seq})
		_, err := s.GetUser(ctx, tenantA, "u-new")
		require.NoError(t, err, "an unknown recipient gets a minimal user row")
		got, err := s.NotificationsAfter(ctx, tenantA, userA, 2, 10)
		require.NoError(t, err)
		require.Equal(t, []string{batch[0].ID, batch[2].ID}, notificationIDs(got))
		require.Equal(t, stored(at(0)), got[0].CreatedAt)
		require.JSONEq(t, string(newNotification(tenantA, userA, "").Data), string(got[0].Data))
		// The next single insert continues the sequence.
		more := insertNotifications(t, s, tenantA, userA, 1)
		require.Equal(t, int64(5), more[0].Seq)
		// Other tenant untouched.
		seq, err := s.MaxSeq(ctx, tenantB, userB)
		require.NoError(t, err)
		require.Equal(t, int64(5), seq)

		counts := unreadCounts(t, s, tenantA, userA, userB, "u-new", "nobody")
		require.Equal(t, map[domain.UserID]int{userA: 5, userB: 1, "u-new": 1, "nobody": 0}, counts)
		require.NoError(t, s.InTx(ctx, func(ctx context.Context) error {
			_, err := s.MarkAllRead(ctx, tenantA, userA, time.Now())
			return err
		}))
		counts = unreadCounts(t, s, tenantB, userA, userB)
		require.Equal(t, map[domain.UserID]int{userA: 0, userB: 5}, counts, "counts are per tenant")

		// Bad input: nothing is stored.
		require.Error(t, s.InsertNotifications(ctx, []*domain.Notification{newNotification(tenantA, userA, "x"), nil}))
		requireInvalid(t, s.InsertNotifications(ctx, []*domain.Notification{newNotification(tenantA, userA, "x"), newNotification(tenantB, userA, "y")}))
		requireInvalid(t, s.InsertNotifications(ctx, []*domain.Notification{newNotification(tenantA, "", "x")}))
		dup := newNotification(tenantA, userA, "dup")
		dup.ID = batch[0].ID
		require.ErrorIs(t, s.InsertNotifications(ctx, []*domain.Notification{newNotification(tenantA, userB, "ok"), dup}), domain.ErrConflict)
		seq, err = s.MaxSeq(ctx, tenantA, userB)
		require.NoError(t, err)
		require.Equal(t, int64(1), seq, "a failed batch rolls back whole")
		require.NoError(t, s.InsertNotifications(ctx, nil))
	},
	"BroadcastBatchStoresEveryValue": testBroadcastBatchStoresEveryValue,
	"InsertBatchesConcurrentlyWithoutGapsOrDeadlock": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		users := []domain.UserID{"u1", "u2", "u3", "u4", "u5", "u6"}
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for w := range 8 {
			wg.Go(func() {
				for range 5 {
					// Each writer lists the users in its own order.
					batch := make([]*domain.Notification, len(users))
					for i := range users {
						batch[i] = newNotification(tenantA, users[(i+w)%len(users)], "x")
					}
					if err := s.InsertNotifications(ctx, batch); err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		for _, u := range users {
			got, err := s.NotificationsAfter(ctx, tenantA, u, 0, 100)
			require.NoError(t, err)
			require.Len(t, got, 40)
			for i, n := range got {
				require.Equal(t, int64(i+1), n.Seq, "seqs of %s have no gap", u)
			}
		}
	},
	"InsertAssignsSeqAndCreatesUser": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		_, err := s.GetUser(ctx, tenantA, userA)
		requireNotFound(t, err)

		n := newNotification(tenantA, userA, "first")
		require.NoError(t, s.InsertNotification(ctx, n))
		require.Equal(t, int64(1), n.Seq)
		require.Equal(t, stored(at(0)), n.CreatedAt, "normalised to what is stored")
		u, err := s.GetUser(ctx, tenantA, userA)
		require.NoError(t, err, "an unknown recipient gets a minimal user row")
		require.Equal(t, userA, u.ID)
		require.Empty(t, u.Perms)

		more := insertNotifications(t, s, tenantA, userA, 2)
		require.Equal(t, int64(2), more[0].Seq)
		require.Equal(t, int64(3), more[1].Seq)
		other := insertNotifications(t, s, tenantA, userB, 1)
		require.Equal(t, int64(1), other[0].Seq, "seq is per user")
		otherTenant := insertNotifications(t, s, tenantB, userA, 1)
		require.Equal(t, int64(1), otherTenant[0].Seq, "and per tenant")

		// A known user keeps name and perms.
		require.NoError(t, s.UpsertUser(ctx, domain.User{TenantID: tenantA, ID: "known", Name: "Kim", Perms: []string{"x"}}))
		insertNotifications(t, s, tenantA, "known", 1)
		u, err = s.GetUser(ctx, tenantA, "known")
		require.NoError(t, err)
		require.Equal(t, "Kim", u.Name)
		require.Equal(t, []string{"x"}, u.Perms)

		// Defaults: id and created_at.
		bare := &domain.Notification{TenantID: tenantA, UserID: userA, Type: "AlertNotification", Severity: domain.SeverityCritical, Title: "t"}
		require.NoError(t, s.InsertNotification(ctx, bare))
		_, err = domain.ParseID("id", bare.ID)
		require.NoError(t, err)
		require.False(t, bare.CreatedAt.IsZero())
		got, err := s.NotificationsAfter(ctx, tenantA, userA, bare.Seq-1, 1)
		require.NoError(t, err)
		require.Len(t, got, 1)
		require.Equal(t, "{}", string(got[0].Data), "missing data is an empty object")
	},
	"RoundTrip": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		n := newNotification(tenantA, userA, "Low stock: Widget")
		readAt := at(time.Minute)
		n.ReadAt = &readAt
		require.NoError(t, s.InsertNotification(ctx, n))
		list, err := s.ListNotifications(ctx, tenantA, userA, notification.ListParams{})
		require.NoError(t, err)
		require.Len(t, list, 1)
		got := list[0]
		require.Equal(t, *n, got, "what the caller holds after insert equals what is read back")
		require.Equal(t, `{"product_id": "p-1", "on_hand": 3, "tags": ["a", "b"]}`, string(got.Data), "data byte for byte")
		require.Equal(t, stored(readAt), *got.ReadAt)

		bad := newNotification(tenantA, userA, "bad")
		bad.Data = []byte(`{"unterminated`)
		requireInvalid(t, s.InsertNotification(ctx, bad))
		requireInvalid(t, s.InsertNotification(ctx, newNotification(tenantA, "", "no user")))
		requireInvalid(t, s.InsertNotification(ctx, newNotification("", userA, "no tenant")))
		dup := newNotification(tenantA, userA, "dup")
		dup.ID = n.ID
		require.ErrorIs(t, s.InsertNotification(ctx, dup), domain.ErrConflict)
		require.Error(t, s.InsertNotification(ctx, nil))
		maxSeq, err := s.MaxSeq(ctx, tenantA, userA)
		require.NoError(t, err)
		require.Equal(t, int64(1), maxSeq, "failed inserts take no seq")
	},
	"ListNewestFirstAndPages": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		ns := insertNotifications(t, s, tenantA, userA, 7)
		insertNotifications(t, s, tenantA, userB, 2)
		insertNotifications(t, s, tenantB, userA, 2)
		want := reversed(notificationIDs(ns))

		all, err := s.ListNotifications(ctx, tenantA, userA, notification.ListParams{Status: notification.StatusAll})
		require.NoError(t, err)
		require.Equal(t, want, notificationIDs(all), "newest first, this user only")

		var paged []string
		before := ""
		for {
			page, err := s.ListNotifications(ctx, tenantA, userA, notification.ListParams{Before: before, Limit: 3})
			require.NoError(t, err)
			paged = append(paged, notificationIDs(page)...)
			if len(page) < 3 {
				break
			}
			before = page[len(page)-1].ID
		}
		require.Equal(t, want, paged)

		_, err = s.ListNotifications(ctx, tenantA, userB, notification.ListParams{Before: ns[3].ID})
		requireNotFound(t, err, "another user's notification is no cursor")
		_, err = s.ListNotifications(ctx, tenantB, userA, notification.ListParams{Before: ns[3].ID})
		requireNotFound(t, err, "another tenant's notification is no cursor")
		_, err = s.ListNotifications(ctx, tenantA, userA, notification.ListParams{Before: "bad"})
		requireNotFound(t, err)
		_, err = s.ListNotifications(ctx, tenantA, userA, notification.ListParams{Status: "bogus"})
		requireInvalid(t, err)
		none, err := s.ListNotifications(ctx, tenantA, "nobody", notification.ListParams{})
		require.NoError(t, err)
		require.NotNil(t, none)
		require.Empty(t, none)
	},
	"LimitClamped": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		ns := make([]*domain.Notification, 205)
		require.NoError(t, s.InTx(ctx, func(ctx context.Context) error {
			for i := range ns {
				ns[i] = newNotification(tenantA, userA, "bulk")
				if err := s.InsertNotification(ctx, ns[i]); err != nil {
					return err
				}
			}
			return nil
		}))
		list, err := s.ListNotifications(ctx, tenantA, userA, notification.ListParams{Limit: 1000})
		require.NoError(t, err)
		require.Len(t, list, 200, "at most 200")
		list, err = s.ListNotifications(ctx, tenantA, userA, notification.ListParams{})
		require.NoError(t, err)
		require.Len(t, list, 50, "50 by default")
		list, err = s.ListNotifications(ctx, tenantA, userA, notification.ListParams{Limit: 1})
		require.NoError(t, err)
		require.Equal(t, ns[len(ns)-1].ID, list[0].ID)
	},
	"StatusAndMarks": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		ns := insertNotifications(t, s, tenantA, userA, 4)
		theirs := insertNotifications(t, s, tenantA, userB, 1)[0]
		count := func(u domain.UserID) int {
			n, err := s.UnreadCount(ctx, tenantA, u)
			require.NoError(t, err)
			return n
		}
		require.Equal(t, 4, count(userA))

		readAt := at(time.Hour)
		changed, err := s.MarkRead(ctx, tenantA, userA, ns[1].ID, readAt)
		require.NoError(t, err)
		require.True(t, changed)
		changed, err = s.MarkRead(ctx, tenantA, userA, ns[1].ID, at(2*time.Hour))
		require.NoError(t, err)
		require.False(t, changed, "already read")
		require.Equal(t, 3, count(userA))

		read, err := s.ListNotifications(ctx, tenantA, userA, notification.ListParams{Status: notification.StatusRead})
		require.NoError(t, err)
		require.Equal(t, []string{ns[1].ID}, notificationIDs(read))
		require.Equal(t, stored(readAt), *read[0].ReadAt, "the first read time is kept")
		unread, err := s.ListNotifications(ctx, tenantA, userA, notification.ListParams{Status: notification.StatusUnread})
		require.NoError(t, err)
		require.Equal(t, []string{ns[3].ID, ns[2].ID, ns[0].ID}, notificationIDs(unread))
		page, err := s.ListNotifications(ctx, tenantA, userA, notification.ListParams{Status: notification.StatusUnread, Before: ns[2].ID})
		require.NoError(t, err)
		require.Equal(t, []string{ns[0].ID}, notificationIDs(page))

		changed, err = s.MarkUnread(ctx, tenantA, userA, ns[1].ID)
		require.NoError(t, err)
		require.True(t, changed)
		changed, err = s.MarkUnread(ctx, tenantA, userA, ns[1].ID)
		require.NoError(t, err)
		require.False(t, changed, "already unread")
		require.Equal(t, 4, count(userA))

		// Another user, or tenant, can neither read nor mark A's notifications.
		_, err = s.MarkRead(ctx, tenantA, userB, ns[0].ID, readAt)
		requireNotFound(t, err)
		_, err = s.MarkRead(ctx, tenantB, userA, ns[0].ID, readAt)
		requireNotFound(t, err)
		_, err = s.MarkUnread(ctx, tenantA, userB, ns[0].ID)
		requireNotFound(t, err)
		_, err = s.MarkRead(ctx, tenantA, userA, "bad", readAt)
		requireNotFound(t, err)
		_, err = s.MarkUnread(ctx, tenantA, userA, domain.NewID())
		requireNotFound(t, err)
		require.Equal(t, 4, count(userA), "foreign marks changed nothing")

		n, err := s.MarkAllRead(ctx, tenantA, userA, readAt)
		require.NoError(t, err)
		require.Equal(t, int64(4), n)
		require.Equal(t, 0, count(userA))
		require.Equal(t, 1, count(userB), "another user's inbox is untouched")
		n, err = s.MarkAllRead(ctx, tenantA, userA, readAt)
		require.NoError(t, err)
		require.Zero(t, n)
		changed, err = s.MarkRead(ctx, tenantA, userB, theirs.ID, readAt)
		require.NoError(t, err)
		require.True(t, changed)
	},
	"SeqReads": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		maxSeq, err := s.MaxSeq(ctx, tenantA, userA)
		require.NoError(t, err)
		require.Zero(t, maxSeq)
		ns := insertNotifications(t, s, tenantA, userA, 5)
		insertNotifications(t, s, tenantA, userB, 8)

		maxSeq, err = s.MaxSeq(ctx, tenantA, userA)
		require.NoError(t, err)
		require.Equal(t, int64(5), maxSeq)
		seq, err := s.NotificationSeq(ctx, tenantA, userA, ns[2].ID)
		require.NoError(t, err)
		require.Equal(t, int64(3), seq)
		_, err = s.NotificationSeq(ctx, tenantA, userB, ns[2].ID)
		requireNotFound(t, err)
		_, err = s.NotificationSeq(ctx, tenantB, userA, ns[2].ID)
		requireNotFound(t, err)
		_, err = s.NotificationSeq(ctx, tenantA, userA, "'")
		requireNotFound(t, err)

		after, err := s.NotificationsAfter(ctx, tenantA, userA, 2, 0)
		require.NoError(t, err)
		require.Equal(t, notificationIDs(ns[2:]), notificationIDs(after), "oldest first, after seq 2")
		after, err = s.NotificationsAfter(ctx, tenantA, userA, 0, 2)
		require.NoError(t, err)
		require.Equal(t, notificationIDs(ns[:2]), notificationIDs(after))
		after, err = s.NotificationsAfter(ctx, tenantA, userA, 5, 10)
		require.NoError(t, err)
		require.Empty(t, after)
		after, err = s.NotificationsAfter(ctx, tenantB, userA, 0, 10)
		require.NoError(t, err)
		require.Empty(t, after, "another tenant sees nothing")
	},
	"ConcurrentInsertsGetGaplessSeqs": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		const writers, each = 12, 6
		var wg sync.WaitGroup
		errs := make([]error, writers)
		seqs := make(chan int64, writers*each)
		for w := range writers {
			wg.Go(func() {
				for range each {
					// The user does not exist yet: the first inserters race to create it.
					n := newNotification(tenantA, userA, "race")
					if err := s.InsertNotification(ctx, n); err != nil {
						errs[w] = err
						return
					}
					seqs <- n.Seq
				}
			})
		}
		wg.Wait()
		close(seqs)
		for _, err := range errs {
			require.NoError(t, err)
		}
		var got []int64
		for seq := range seqs {
			got = append(got, seq)
		}
		slices.Sort(got)
		want := make([]int64, writers*each)
		for i := range want {
			want[i] = int64(i + 1)
		}
		require.Equal(t, want, got, "seqs 1..N, no gaps, no duplicates")

		list, err := s.NotificationsAfter(ctx, tenantA, userA, 0, 1000)
		require.NoError(t, err)
		require.Len(t, list, writers*each)
		for i, n := range list {
			require.Equal(t, int64(i+1), n.Seq)
		}
	},
	"SeqIsCommitOrder": func(t *testing.T, s *sqlstore.Store) {
		// A transaction holding a seq makes the next inserter wait, so a seq
		// is never visible before a lower one.
		ctx := ctxFor(t)
		first := newNotification(tenantA, userA, "first")
		inserted := make(chan struct{})
		release := make(chan struct{})
		done := make(chan error, 1)
		go func() {
			done <- s.InTx(ctx, func(ctx context.Context) error {
				if err := s.InsertNotification(ctx, first); err != nil {
					return err
				}
				close(inserted)
				select {
				case <-release:
					return nil
				case <-ctx.Done():
					return ctx.Err()
				}
			})
		}()
		select {
		case <-inserted:
		case err := <-done:
			t.Fatalf("first transaction ended early: %v", err)
		}
		second := newNotification(tenantA, userA, "second")
		secondDone := make(chan error, 1)
		go func() { secondDone <- s.InsertNotification(ctx, second) }()
		// Nothing is visible while the first transaction is open.
		after, err := s.NotificationsAfter(ctx, tenantA, userA, 0, 10)
		require.NoError(t, err)
		require.Empty(t, after)
		close(release)
		require.NoError(t, <-done)
		require.NoError(t, <-secondDone)
		require.Equal(t, int64(1), first.Seq)
		require.Equal(t, int64(2), second.Seq)
	},
	"HostileStrings": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		for i, h := range hostile {
			user := domain.UserID(h)
			n := newNotification(tenantA, user, h)
			n.Body, n.ActionURL, n.Type = h, h, h
			require.NoError(t, s.InsertNotification(ctx, n), "string %d", i)
			list, err := s.ListNotifications(ctx, tenantA, user, notification.ListParams{})
			require.NoError(t, err)
			require.Len(t, list, 1)
			require.Equal(t, *n, list[0])
		}
	},
}

// unreadCounts reads the unread count of each of users, one UnreadCount
// each (0 for a user without a row).
func unreadCounts(t *testing.T, s *sqlstore.Store, tenant domain.TenantID, users ...domain.UserID) map[domain.UserID]int {
	t.Helper()
	out := make(map[domain.UserID]int, len(users))
	for _, u := range users {
		n, err := s.UnreadCount(ctxFor(t), tenant, u)
		require.NoError(t, err)
		out[u] = n
	}
	return out
}
