package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"
)

// poster sends POST requests over one kept-alive HTTP/1.1 connection, all
// in the calling goroutine. net/http's Transport hands every request to a
// writer and a reader goroutine of its connection and back; for the
// personal phases (one small request per notification) that hand-off and
// its bookkeeping were about a third of the load generator's CPU, on the
// cores the server under test shares. The response is still parsed by
// net/http (http.ReadResponse).
type poster struct {
	addr   string // IP:port, already checked to be loopback
	host   string // Host header
	dialer net.Dialer

	conn     net.Conn
	br       *bufio.Reader
	lastUsed time.Time
	req      []byte // the request being written (reused)
}

// Bounds of one poster request, as the http.Client of the other phases.
const (
	posterTimeout = 30 * time.Second
	// posterIdle is how long a connection may sit unused before it is
	// redialled instead of reused: well under the server's idle timeout,
	// so a kept-alive connection is never one the server is closing.
	posterIdle = 30 * time.Second
)

// errBadResponse is a response the poster could not read completely.
var errBadResponse = errors.New("malformed HTTP response")

func newPoster(t target) *poster {
	return &poster{addr: t.host, host: t.host, dialer: net.Dialer{Timeout: 5 * time.Second}}
}

// post sends body as JSON to path with a bearer token and returns the
// status and up to 4 KiB of the response body. Any error closes the
// connection: the next request dials a new one.
func (p *poster) post(ctx context.Context, token, path string, body []byte) (int, []byte, error) {
	if err := ctx.Err(); err != nil {
		return 0, nil, err
	}
	now := time.Now()
	if p.conn != nil && now.Sub(p.lastUsed) > posterIdle {
		p.close()
	}
	if p.conn == nil {
		c, err := p.dialer.DialContext(ctx, "tcp", p.addr)
		if err != nil {
			return 0, nil, err
		}
		p.conn = c
		if p.br == nil {
			p.br = bufio.NewReaderSize(c, 4096)
		} else {
			p.br.Reset(c)
		}
	}
	// The context ends the request as http.Client does: by the deadline of
	// the connection.
	c := p.conn
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Unix(1, 0)) })
	status, out, err := p.roundTrip(now, token, path, body)
	if !stop() {
		// The deadline may have been cut short: not reusable. A response
		// read in full still counts (the server accepted the request).
		p.close()
	}
	if err != nil {
		// The exchange failed: the connection's state is unknown.
		p.close()
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return 0, nil, err
	}
	p.lastUsed = time.Now()
	return status, out, nil
}

func (p *poster) roundTrip(now time.Time, token, path string, body []byte) (int, []byte, error) {
	if err := p.conn.SetDeadline(now.Add(posterTimeout)); err != nil {
		return 0, nil, err
	}
	b := p.req[:0]
	b = append(b, "POST "...)
	b = append(b, path...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, p.host...)
	b = append(b, "\r\nUser-Agent: notifyhub-loadgen\r\nAuthorization: Bearer "...)
	b = append(b, token...)
	b = append(b, "\r\nContent-Type: application/json\r\nContent-Length: "...)
	b = strconv.AppendInt(b, int64(len(body)), 10)
	b = append(b, "\r\n\r\n"...)
	b = append(b, body...)
	p.req = b
	if _, err := p.conn.Write(b); err != nil {
		return 0, nil, err
	}
	res, err := http.ReadResponse(p.br, nil)
	if err != nil {
		return 0, nil, fmt.Errorf("%w: %w", errBadResponse, err)
	}
	var out []byte
	if res.StatusCode != http.StatusAccepted {
		out, _ = io.ReadAll(io.LimitReader(res.Body, 4096))
	}
	// The rest of the body must be read for the next response to follow.
	_, err = io.Copy(io.Discard, res.Body)
	_ = res.Body.Close()
	if err != nil {
		return 0, nil, fmt.Errorf("%w: %w", errBadResponse, err)
	}
	if res.Close {
		p.close()
	}
	return res.StatusCode, out, nil
}

func (p *poster) close() {
	if p.conn != nil {
		_ = p.conn.Close()
		p.conn = nil
	}
}

// posters is a pool of posters for concurrent senders: each request takes
// one, so a connection carries one request at a time.
type posters chan *poster

func newPosters(t target, n int) posters {
	ps := make(posters, n)
	for range n {
		ps <- newPoster(t)
	}
	return ps
}

func (ps posters) post(ctx context.Context, token, path string, body []byte) (int, []byte, error) {
	var p *poster
	select {
	case p = <-ps:
	case <-ctx.Done():
		return 0, nil, ctx.Err()
	}
	defer func() { ps <- p }()
	return p.post(ctx, token, path, body)
}

// postJSON is post with body encoded as JSON.
func (ps posters) postJSON(ctx context.Context, token, path string, body any) (int, []byte, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return 0, nil, err
	}
	return ps.post(ctx, token, path, b)
}

// closeAll closes every connection; call it once no request is running.
func (ps posters) closeAll() {
	for {
		select {
		case p := <-ps:
			p.close()
		default:
			return
		}
	}
}

// appendJSON appends b as json.Marshal encodes it, without reflection:
// the personal senders encode one per message.
func (b *notifyBody) appendJSON(dst []byte) []byte {
	dst = append(dst, `{"type":`...)
	dst = appendJSONString(dst, b.Type)
	dst = append(dst, `,"severity":`...)
	dst = appendJSONString(dst, b.Severity)
	dst = append(dst, `,"title":`...)
	dst = appendJSONString(dst, b.Title)
	if b.All {
		dst = append(dst, `,"all":true`...)
	}
	if len(b.UserIDs) > 0 {
		dst = append(dst, `,"user_ids":[`...)
		for i, id := range b.UserIDs {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSONString(dst, id)
		}
		dst = append(dst, ']')
	}
	dst = append(dst, `,"data":{"lg":`...)
	dst = appendJSONString(dst, b.Data.Run)
	dst = append(dst, `,"p":`...)
	dst = strconv.AppendInt(dst, int64(b.Data.Phase), 10)
	dst = append(dst, `,"n":`...)
	dst = strconv.AppendInt(dst, int64(b.Data.N), 10)
	dst = append(dst, `,"t":`...)
	dst = strconv.AppendInt(dst, b.Data.T, 10)
	return append(dst, "}}"...)
}

// appendJSONString appends s quoted as json.Marshal quotes it: plain ASCII
// as is, anything that needs escaping through json.Marshal itself.
func appendJSONString(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x80 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always encodes
			return append(dst, q...)
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}
