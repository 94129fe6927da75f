package redisstream

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/notifyhub/notifyhub/domain"
)

// entryID is a parsed Redis stream id "<ms>-<seq>".
type entryID struct{ ms, seq uint64 }

func parseID(s string) (entryID, error) {
	msPart, seqPart, ok := strings.Cut(s, "-")
	if !ok {
		return entryID{}, fmt.Errorf("stream id %q: want <ms>-<seq>", s)
	}
	ms, err := strconv.ParseUint(msPart, 10, 64)
	if err != nil {
		return entryID{}, fmt.Errorf("stream id %q: %w", s, err)
	}
	seq, err := strconv.ParseUint(seqPart, 10, 64)
	if err != nil {
		return entryID{}, fmt.Errorf("stream id %q: %w", s, err)
	}
	return entryID{ms: ms, seq: seq}, nil
}

func (id entryID) String() string { return fmt.Sprintf("%d-%d", id.ms, id.seq) }

func (id entryID) less(o entryID) bool {
	return id.ms < o.ms || (id.ms == o.ms && id.seq < o.seq)
}

// next is the smallest id greater than id: XTRIM MINID next(x) drops x and
// everything before it.
func (id entryID) next() entryID {
	if id.seq == math.MaxUint64 {
		return entryID{ms: id.ms + 1}
	}
	return entryID{ms: id.ms, seq: id.seq + 1}
}

// invalidID turns a malformed entry id into a validation error that keeps
// the parse detail.
func invalidID(err error) error {
	return fmt.Errorf("%w (%v)", domain.Invalid("id", "must be a stream id <ms>-<seq>"), err)
}
