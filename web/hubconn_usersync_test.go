package web

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
)

// batchUsers is a UserStore with UpsertUsers that records its calls. An
// UpsertUser of "slow" waits for release; writes of "bad" fail.
type batchUsers struct {
	memUsers
	release chan struct{}
	mu      sync.Mutex
	batches [][]domain.UserID
	singles []domain.UserID
}

var errBadUser = errors.New("bad user")

func (b *batchUsers) UpsertUser(ctx context.Context, u domain.User) error {
	if u.ID == "slow" {
		<-b.release
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.singles = append(b.singles, u.ID)
	if u.ID == "bad" {
		return errBadUser
	}
	return nil
}

func (b *batchUsers) UpsertUsers(_ context.Context, users []domain.User) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	var ids []domain.UserID
	for _, u := range users {
		ids = append(ids, u.ID)
	}
	b.batches = append(b.batches, ids)
	if slices.Contains(ids, "bad") {
		return errBadUser
	}
	return nil
}

// While one write is in the store, the first requests of other users queue
// up and are written in one batch; a batch that fails is written again
// user by user, so only the request at fault fails and is not cached.
func TestUserSyncBatchesConcurrentFirstRequests(t *testing.T) {
	t.Parallel()
	store := &batchUsers{release: make(chan struct{})}
	u := newUserSync(store, 100)
	ctx := context.Background()

	slow := make(chan error, 1)
	go func() { slow <- u.sync(ctx, claimsFor("slow", "S")) }()
	require.Eventually(t, func() bool { return u.writes.Running() && u.writes.Queued() == 0 }, 10*time.Second, time.Millisecond,
		"the first write did not start")

	users := []string{"bad"}
	for i := range 20 {
		users = append(users, fmt.Sprintf("u%02d", i))
	}
	errs := make([]chan error, len(users))
	for i, id := range users {
		errs[i] = make(chan error, 1)
		go func() { errs[i] <- u.sync(ctx, claimsFor(id, id)) }()
	}
	require.Eventually(t, func() bool { return u.writes.Queued() == len(users) }, 10*time.Second, time.Millisecond)
	close(store.release)
	require.NoError(t, <-slow)
	for i, id := range users {
		err := <-errs[i]
		if id == "bad" {
			require.ErrorIs(t, err, errBadUser)
			continue
		}
		require.NoError(t, err, id)
	}
	store.mu.Lock()
	require.Len(t, store.batches, 1, "the queued users went to the store together")
	require.ElementsMatch(t, users, toStrings(store.batches[0]))
	require.ElementsMatch(t, append([]string{"slow"}, users...), toStrings(store.singles), "after the failed batch, each alone")
	store.batches, store.singles = nil, nil
	store.mu.Unlock()

	// Recorded users are cached; the one that failed is tried again.
	for _, id := range users {
		err := u.sync(ctx, claimsFor(id, id))
		if id != "bad" {
			require.NoError(t, err)
		}
	}
	require.NoError(t, u.sync(ctx, claimsFor("slow", "S")))
	store.mu.Lock()
	defer store.mu.Unlock()
	require.Empty(t, store.batches)
	require.Equal(t, []domain.UserID{"bad"}, store.singles)
}

// A request whose context ends stops waiting; the batch it joined is
// still written and cached.
func TestUserSyncRequestGivesUpAloneWhenItsContextEnds(t *testing.T) {
	t.Parallel()
	store := &batchUsers{release: make(chan struct{})}
	u := newUserSync(store, 100)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- u.sync(ctx, claimsFor("slow", "S")) }()
	require.Eventually(t, func() bool { return u.writes.Running() }, 10*time.Second, time.Millisecond)
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)
	close(store.release)
	require.Eventually(t, func() bool { return u.known(userKey{"acme", "slow"}, fingerprint(claimsFor("slow", "S").User())) },
		10*time.Second, time.Millisecond, "the write went on without the request")
}

func toStrings(ids []domain.UserID) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = string(id)
	}
	return out
}
