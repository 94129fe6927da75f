package pause

import (
	"context"
	"testing"
	"time"
)

func TestForWaitsUnlessTheContextEnds(t *testing.T) {
	if !For(context.Background(), time.Millisecond) {
		t.Fatal("a live context's pause reported false")
	}
	if !For(context.Background(), 0) {
		t.Fatal("a zero pause of a live context reported false")
	}
	ended, cancel := context.WithCancel(context.Background())
	cancel()
	if For(ended, time.Hour) {
		t.Fatal("an ended context's pause reported true")
	}
	if For(ended, 0) {
		t.Fatal("an ended context's zero pause reported true")
	}
	// Ending the context during the pause ends it (an hour-long pause would
	// outlast the test's timeout otherwise).
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(10*time.Millisecond, cancel)
	if For(ctx, time.Hour) {
		t.Fatal("a pause whose context ended meanwhile reported true")
	}
}
