// Package hub fans out committed inbox changes to the WebSocket connections
// of each (tenant, user) on this node. It stores nothing: the database is the
// truth and the hub is a cache of it. A connection that reconnects with
// ?since=<id> is sent every newer notification from History, oldest first,
// then unread_count, then live updates, with no gap and no duplicate thanks to
// the per-user sequence of each notification.
//
// Updates reach every node through a Broker (hub/broker/memory in embedded
// mode, hub/broker/redis in distributed mode); the hub delivers only to its
// own sockets. Delivery never blocks: each connection has a bounded queue and
// a connection that does not keep up is closed with code 4008.
//
// An idle connection has no goroutine: its socket waits in the process's
// epoll set of idle sockets, which starts a reader once it is readable
// (idlepoll.go; without epoll, a reader waits on each socket with a 2 KiB
// stack, idleread.go), and it keeps a few small buffers (sockio.go). Its
// work runs on a short-lived loop started by whoever brings it (conn.go),
// which writes everything queued meanwhile in one system call; one pinger
// and one token-expiry timer per hub serve every socket. The upgrade's 101
// goes out in the same write as the first frames (handshake.go).
//
// The hub spares the database: every History read of its connections
// (catch-up, gap and resync refills, unread-count refreshes) takes one of
// MaxConcurrentRefills node-wide slots (the catch-up reads of sockets
// starting together are one query, one slot), and a Resync spreads each
// connection's refill over a random ResyncJitter. The unread_count sent
// after a read, unread or read_all change is History's, debounced per
// connection, because the counts carried by updates can arrive out of commit
// order (see countTrusted in conn.go).
//
// The hub does not authenticate: the web layer verifies the token and passes
// an Identity to Serve. It does not persist or publish notifications either:
// the notification service does, through the broker.
package hub
