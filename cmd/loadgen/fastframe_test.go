package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// hubFrame is a notification frame as the hub writes it.
const hubFrame = `{"type":"notification","notification":{"id":"0193b0c1-7d2e-7a6b-9f00-123456789abc","tenant_id":"t1","user_id":"u1","type":"LoadNotification","severity":"info","title":"load #12","body":"","action_url":"","data":{"lg":"305c07d1","p":4,"n":123,"t":1733567890123456789},"read_at":null,"created_at":"2026-12-07T11:02:33.123456Z","seq":77}}`

// The frames the hub writes take the fast path, with encoding/json's
// result: the fast path is really used, and right.
func TestDecodeFrameFastTakesHubFrames(t *testing.T) {
	t.Parallel()
	for _, frame := range []string{
		hubFrame,
		`{"type":"notification","notification":{"id":"n2","type":"LowStockNotification","data":{"product_id":"p1","sku":"S","qty":-3.5e2,"tags":["a",{"b":[true,false,null]}]}}}`,
		" \t\r\n" + hubFrame + "\n",
		`{"type":"unread_count","unread_count":3}`,
		`{"type":"notification","notification":{"id":"n3","type":"X","data":{}}}`,
	} {
		var fast, slow wireFrame
		ok, dataOK, handled := decodeFrameFast([]byte(frame), &fast)
		require.True(t, handled, frame)
		sok, sdataOK := decodeFrameJSON([]byte(frame), &slow)
		require.Equal(t, sok, ok, frame)
		require.Equal(t, sdataOK, dataOK, frame)
		require.Equal(t, slow, fast, frame)
	}
	var f wireFrame
	ok, dataOK, _ := decodeFrameFast([]byte(hubFrame), &f)
	require.True(t, ok)
	require.True(t, dataOK)
	require.Equal(t, marker{Run: "305c07d1", Phase: 4, N: 123}, f.Notification.Data)
	require.Equal(t, "0193b0c1-7d2e-7a6b-9f00-123456789abc", f.Notification.ID)
}

// Whatever the fast path could read otherwise than encoding/json, it
// leaves to it.
func TestDecodeFrameFastDeclines(t *testing.T) {
	t.Parallel()
	for _, frame := range []string{
		`{"type":"notification","notification":{"id":"n\u0031","type":"X","data":{}}}`,   // escaped wanted string
		`{"type":"notification","notification":{"ID":"n1","type":"X","data":{}}}`,        // case-folded key
		`{"type":"notification","notification":{"id":"n1","typ\u0065":"X","data":{}}}`,   // escaped key
		`{"type":"notification","notification":{"id":5,"type":"X","data":{}}}`,           // wrong type
		`{"type":"notification","notification":null}`,                                    // null
		`{"type":"notification","notification":{"id":"n1","data":{"p":1.0}}}`,            // not an integer
		`{"type":"notification","notification":{"id":"n1","data":{"p":300}}}`,            // out of int8
		`{"type":"notification","notification":{"id":"n1","data":{"n":1},"data":{}}}`,    // merged by encoding/json
		`{"type":"notification","notification":{"id":"n1"},"notification":{"type":"X"}}`, // merged too
		`{"type":"notification","notification":{"id":"n1","data":[1]}}`,                  // data not an object
		`{"type":"notification","notification":{"id":"ünï"}}`,                            // not ASCII
		`{"type":"notification","notification":{"id":"n1"}} x`,                           // trailing garbage
		`{"type":"notification","notification":{"id":"n1"`,                               // truncated
		`{"type":"notification","x":01}`,                                                 // bad number
		`{"type":"notification","x":"a` + "\x01" + `"}`,                                  // control character
		`{"type":"notification","x":tru}`,                                                // bad literal
		`[1,2]`, ``, `nul`,
		`{"x":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`, // deeper than skip follows
	} {
		var f wireFrame
		_, _, handled := decodeFrameFast([]byte(frame), &f)
		require.False(t, handled, frame)
	}
}

// Property: on random frames, mutated and not, the fast path either
// declines or agrees with encoding/json.
func TestDecodeFrameFastAgreesWithEncodingJSON(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	handled := 0
	for i := range 20000 {
		frame := randomFrame(rng)
		if i%2 == 1 {
			frame = mutate(rng, frame)
		}
		if checkAgainstJSON(t, frame) {
			handled++
		}
	}
	require.Greater(t, handled, 1000, "the fast path should take many of the frames (the rest test its declining)")
}

// checkAgainstJSON fails t when the fast path handles frame with another
// result than encoding/json; it reports whether the fast path handled it.
func checkAgainstJSON(t testing.TB, frame []byte) bool {
	var fast, slow wireFrame
	ok, dataOK, handled := decodeFrameFast(frame, &fast)
	if !handled {
		return false
	}
	sok, sdataOK := decodeFrameJSON(frame, &slow)
	if ok != sok || dataOK != sdataOK {
		t.Fatalf("frame %q: fast (%v, %v), encoding/json (%v, %v)", frame, ok, dataOK, sok, sdataOK)
	}
	if ok && dataOK {
		require.Equal(t, slow, fast, "frame %q", frame)
	}
	if ok {
		require.Equal(t, slow.Notification.ID, fast.Notification.ID, "frame %q", frame)
	}
	return true
}

var frameKeys = []string{"type", "notification", "id", "data", "lg", "p", "n", "product_id", "t", "title", "Type", "ID", "P", "x"}

func randomFrame(rng *rand.Rand) []byte {
	pick := func(vs ...any) any { return vs[rng.IntN(len(vs))] }
	data := map[string]any{}
	for range rng.IntN(5) {
		data[frameKeys[rng.IntN(len(frameKeys))]] = pick("305c07d1", 4, 123, -1, 1.5, 1e3, 300, nil, true, []any{1, "a"}, "é", "a\"b", 70000000000)
	}
	n := map[string]any{
		"id":   pick("n1", "0193b0c1-7d2e", 5, nil, "x\\y"),
		"type": pick("LoadNotification", "LowStockNotification", "", 1),
		"data": pick(data, data, data, nil, []any{1}, "s"),
	}
	for range rng.IntN(4) {
		n[frameKeys[rng.IntN(len(frameKeys))]] = pick("v", 1, nil, map[string]any{"k": []any{}})
	}
	top := map[string]any{"type": pick("notification", "notification", "unread_count", 3), "notification": pick(n, n, n, nil, 1)}
	b, err := json.Marshal(top)
	if err != nil {
		panic(err)
	}
	return b
}

// mutate changes, inserts or deletes a few bytes of b.
func mutate(rng *rand.Rand, b []byte) []byte {
	b = append([]byte(nil), b...)
	alphabet := []byte(`{}[]":,\ 0123456789-+.eEtrufalsn` + "\x00\x7f\xc3")
	for range 1 + rng.IntN(3) {
		if len(b) == 0 {
			break
		}
		i := rng.IntN(len(b))
		switch rng.IntN(3) {
		case 0:
			b[i] = alphabet[rng.IntN(len(alphabet))]
		case 1:
			b = append(b[:i], append([]byte{alphabet[rng.IntN(len(alphabet))]}, b[i:]...)...)
		default:
			b = append(b[:i], b[i+1:]...)
		}
	}
	return b
}

func FuzzDecodeFrameFast(f *testing.F) {
	f.Add([]byte(hubFrame))
	f.Add([]byte(`{"type":"notification","notification":{"id":"n1","data":{"p":1,"P":2}}}`))
	f.Add([]byte(`{"type":"unread_count","unread_count":3}`))
	f.Fuzz(func(t *testing.T, frame []byte) { checkAgainstJSON(t, frame) })
}

func BenchmarkDecodeFrame(b *testing.B) {
	frame := []byte(hubFrame)
	for _, c := range []struct {
		name   string
		decode func([]byte, *wireFrame) (bool, bool)
	}{{"encoding-json", decodeFrameJSON}, {"fast", decodeFrame}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			var f wireFrame
			for b.Loop() {
				f = wireFrame{}
				if ok, _ := c.decode(frame, &f); !ok {
					b.Fatal(fmt.Sprint("not decoded: ", string(frame)))
				}
			}
		})
	}
}
