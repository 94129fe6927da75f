// center.js drives the notification center page rendered by web/view:
// a WebSocket to /ws for live notifications and cross-tab read state, and
// fetch calls to the REST API for mark read/unread/all and "load more".
// Notification text is only ever set with textContent, never parsed as HTML.
//
// The page is a cache of the user's inbox and the server is the truth:
//   * the list stays strictly newest first by id (UUID v7, time-ordered),
//     with no duplicates, whatever order items arrive in (live, catch-up,
//     load more, reconcile);
//   * after every (re)connect, once the socket's catch-up is done, the
//     page refetches its window of the inbox and reconciles read state,
//     missing items and the badge: read/unread changes made while this tab
//     was offline are not replayed by the socket;
//   * a socket that cannot get through its handshake (the browser hides
//     the HTTP status) is diagnosed with a REST probe: 401 signs in again,
//     a resume point the server keeps refusing is dropped for a full reload.
(function () {
  "use strict";

  var list = document.getElementById("notifications");
  if (!list) return;

  var badge = document.querySelector('[data-testid="unread-badge"]');
  var conn = document.querySelector('[data-testid="connection-status"]');
  var loadMore = document.querySelector('[data-testid="load-more"]');
  var markAll = document.querySelector('[data-testid="mark-all-read"]');
  var empty = document.querySelector('[data-testid="empty"]');
  var flash = document.querySelector('[data-testid="flash"]');
  var status = list.getAttribute("data-status") === "unread" ? "unread" : "all";
  var since = list.getAttribute("data-since") || "";
  var baseTitle = document.title.replace(/^\(\d+\)\s*/, "");

  var SEVERITIES = { info: "Info", success: "Success", warning: "Warning", critical: "Critical" };
  // Labels of the notification types, from the server's registry.
  var TYPE_LABELS = parseLabels(list.getAttribute("data-type-labels"));
  var BACKOFF_BASE_MS = 500;
  var BACKOFF_CAP_MS = 10000;
  var PAGE_SIZE = 50; // the server's default page
  var RECONCILE_MAX = 200; // the API's largest page
  var RECONCILE_DEBOUNCE_MS = 750;
  var SINCE_FAILURES_BEFORE_RESET = 2;

  function parseLabels(text) {
    try {
      var m = JSON.parse(text || "{}");
      return m && typeof m === "object" && !Array.isArray(m) ? m : {};
    } catch (e) {
      return {};
    }
  }

  // ---- relative time ---------------------------------------------------
  // Same wording as view.Ago on the server.
  var MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  function ago(date, now) {
    var s = Math.floor((now - date) / 1000);
    if (s < 60) return "just now";
    if (s < 3600) return Math.floor(s / 60) + " min ago";
    if (s < 86400) return Math.floor(s / 3600) + " h ago";
    if (s < 7 * 86400) return Math.floor(s / 86400) + " d ago";
    return date.getUTCDate() + " " + MONTHS[date.getUTCMonth()] + " " + date.getUTCFullYear();
  }
  function refreshTimes() {
    var now = Date.now();
    var times = list.querySelectorAll("time[datetime]");
    for (var i = 0; i < times.length; i++) {
      var d = new Date(times[i].getAttribute("datetime"));
      if (!isNaN(d.getTime())) times[i].textContent = ago(d, now);
    }
  }

  // ---- rendering -------------------------------------------------------
  // Only same-site paths and absolute http(s) URLs become links (the rule
  // of view.SafeActionURL).
  function safeURL(u) {
    if (typeof u !== "string" || u === "" || u.length > 2048) return "";
    if (/[\s\\\u0000-\u001f\u007f]/.test(u)) return "";
    if (u.charAt(0) === "/" && u.charAt(1) !== "/") return u;
    if (/^https?:\/\/[^/]/i.test(u)) {
      try {
        var parsed = new URL(u);
        if (parsed.protocol === "http:" || parsed.protocol === "https:") return u;
      } catch (e) {
        return "";
      }
    }
    return "";
  }

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  // renderItem mirrors the templ component view.item.
  function renderItem(n) {
    var sev = SEVERITIES[n.severity] ? n.severity : "info";
    var li = el("li", "n n--" + sev);
    li.setAttribute("data-testid", "notification");
    li.setAttribute("data-id", n.id);
    li.setAttribute("data-seq", String(typeof n.seq === "number" ? n.seq : 0));
    li.setAttribute("data-severity", sev);

    var badgeEl = el("span", "n__sev", SEVERITIES[sev]);
    badgeEl.setAttribute("data-field", "severity");
    li.appendChild(badgeEl);

    var main = el("div", "n__main");
    var title = el("h2", "n__title", n.title || "");
    title.setAttribute("data-field", "title");
    main.appendChild(title);
    if (n.body) {
      var body = el("p", "n__body", n.body);
      body.setAttribute("data-field", "body");
      main.appendChild(body);
    }
    var meta = el("div", "n__meta");
    var typ = typeof n.type === "string" ? n.type : "";
    var kind = el("span", "n__type", Object.prototype.hasOwnProperty.call(TYPE_LABELS, typ) ? TYPE_LABELS[typ] : typ);
    kind.setAttribute("data-field", "type");
    kind.setAttribute("data-type", typ);
    meta.appendChild(kind);
    meta.appendChild(document.createTextNode(" "));
    var time = el("time");
    time.setAttribute("data-field", "time");
    time.setAttribute("datetime", n.created_at);
    var created = new Date(n.created_at);
    time.textContent = isNaN(created.getTime()) ? "" : ago(created, Date.now());
    meta.appendChild(time);
    var href = safeURL(n.action_url);
    if (href) {
      meta.appendChild(document.createTextNode(" "));
      var a = el("a", "n__action", "Open");
      a.setAttribute("data-field", "action");
      a.setAttribute("href", href);
      meta.appendChild(a);
    }
    main.appendChild(meta);
    li.appendChild(main);

    var actions = el("div", "n__actions");
    var read = el("button", "btn btn--small", "Mark read");
    read.type = "button";
    read.setAttribute("data-testid", "mark-read");
    var unread = el("button", "btn btn--small btn--quiet", "Mark unread");
    unread.type = "button";
    unread.setAttribute("data-testid", "mark-unread");
    actions.appendChild(read);
    actions.appendChild(document.createTextNode(" "));
    actions.appendChild(unread);
    li.appendChild(actions);

    setRead(li, n.read_at !== null && n.read_at !== undefined);
    return li;
  }

  // ---- the list: ordered, deduplicated ------------------------------------
  var byId = {};
  (function indexServerItems() {
    var items = list.querySelectorAll('[data-testid="notification"]');
    for (var i = 0; i < items.length; i++) byId[items[i].getAttribute("data-id")] = items[i];
  })();

  function findItem(id) {
    return Object.prototype.hasOwnProperty.call(byId, id) ? byId[id] : null;
  }

  function itemCount() {
    return list.children.length;
  }

  // seqOf is an item's place in the user's commit order (0 if unknown).
  function seqOf(li) {
    return parseInt(li.getAttribute("data-seq"), 10) || 0;
  }

  // newer reports whether item a comes before item b in the newest-first
  // order: by seq, the server's commit order; by id (UUID v7, time-ordered)
  // only when a seq is unknown.
  function newer(a, b) {
    var sa = seqOf(a);
    var sb = seqOf(b);
    if (sa > 0 && sb > 0) return sa > sb;
    return a.getAttribute("data-id") > b.getAttribute("data-id");
  }

  // place puts li where it belongs in the newest-first order.
  function place(li) {
    var items = list.children;
    var lo = 0;
    var hi = items.length;
    while (lo < hi) {
      var mid = (lo + hi) >> 1;
      if (newer(items[mid], li)) lo = mid + 1;
      else hi = mid;
    }
    list.insertBefore(li, items[lo] || null);
  }

  // insert adds n at its place unless it is already shown; it returns the
  // new element, or null.
  function insert(n) {
    if (!n || typeof n.id !== "string" || n.id === "" || findItem(n.id)) return null;
    var li = renderItem(n);
    byId[n.id] = li;
    place(li);
    updateEmpty();
    return li;
  }

  function clearList() {
    while (list.firstChild) list.removeChild(list.firstChild);
    byId = {};
  }

  function setRead(li, read) {
    li.setAttribute("data-read", read ? "true" : "false");
    var r = li.querySelector('[data-testid="mark-read"]');
    var u = li.querySelector('[data-testid="mark-unread"]');
    if (r) r.hidden = read;
    if (u) u.hidden = !read;
  }

  function isRead(li) {
    return li.getAttribute("data-read") === "true";
  }

  function shownUnread() {
    var n = 0;
    for (var i = 0; i < list.children.length; i++) if (!isRead(list.children[i])) n++;
    return n;
  }

  function updateEmpty() {
    if (empty) empty.hidden = list.children.length > 0;
  }

  var badgeCount = badge ? parseInt(badge.textContent, 10) : NaN;

  function setBadge(n) {
    if (!badge || typeof n !== "number" || n < 0) return;
    badgeCount = n;
    badge.textContent = String(n);
    badge.classList.toggle("badge--zero", n === 0);
    document.title = n > 0 ? "(" + n + ") " + baseTitle : baseTitle;
  }

  function showFlash(msg) {
    if (!flash) return;
    flash.textContent = msg;
    flash.hidden = !msg;
  }

  // hasMore reports whether older pages exist beyond what is shown.
  function hasMore() {
    return !!(loadMore && loadMore.getAttribute("data-next-before"));
  }

  function setNextBefore(next) {
    if (!loadMore) return;
    loadMore.setAttribute("data-next-before", next || "");
    loadMore.hidden = !next;
  }

  // ---- live changes vs. snapshots -------------------------------------------
  // Every live change (a socket frame, a click) takes a new epoch. A REST
  // snapshot requested at epoch e must not undo what changed after e: its
  // response may have been computed before that change.
  var epoch = 0;
  var touched = {}; // id -> epoch of its last live change
  var readAllEpoch = 0;
  var countEpoch = 0;

  function touch(id) {
    touched[id] = ++epoch;
  }

  function changedSince(id, start) {
    return (touched[id] || 0) > start || readAllEpoch > start;
  }

  // markAllRead marks every shown item read, or with upTo only those up to
  // that seq: a notification committed after the mark-all stays unread even
  // when it reached this tab first.
  function markAllRead(upTo) {
    readAllEpoch = ++epoch;
    for (var i = 0; i < list.children.length; i++) {
      var li = list.children[i];
      if (upTo > 0 && seqOf(li) > upTo) continue;
      setRead(li, true);
    }
  }

  function newestSeqShown() {
    var top = 0;
    for (var i = 0; i < list.children.length; i++) top = Math.max(top, seqOf(list.children[i]));
    return top;
  }

  // ---- REST ------------------------------------------------------------
  var leaving = false;

  function signIn() {
    if (leaving) return;
    leaving = true;
    window.location.assign("/login");
  }

  function api(method, path) {
    return fetch(path, {
      method: method,
      credentials: "same-origin",
      headers: { Accept: "application/json" }
    }).then(function (res) {
      if (res.status === 401) {
        signIn();
        throw new Error("signed out");
      }
      if (!res.ok) {
        return res.json().then(
          function (body) {
            throw new Error((body && body.error && body.error.message) || "request failed");
          },
          function () {
            throw new Error("request failed (" + res.status + ")");
          }
        );
      }
      return res.status === 204 ? null : res.json();
    });
  }

  function query(before, limit) {
    var q = "/api/v1/notifications?status=" + encodeURIComponent(status);
    if (before) q += "&before=" + encodeURIComponent(before);
    if (limit) q += "&limit=" + limit;
    return q;
  }

  list.addEventListener("click", function (ev) {
    var btn = ev.target.closest('[data-testid="mark-read"], [data-testid="mark-unread"]');
    if (!btn) return;
    var li = btn.closest('[data-testid="notification"]');
    if (!li) return;
    var id = li.getAttribute("data-id");
    var toRead = btn.getAttribute("data-testid") === "mark-read";
    var before = isRead(li);
    setRead(li, toRead); // optimistic; the socket confirms in every tab
    touch(id);
    api("POST", "/api/v1/notifications/" + encodeURIComponent(id) + (toRead ? "/read" : "/unread")).then(
      function () {
        showFlash("");
      },
      function (err) {
        setRead(li, before);
        touch(id);
        showFlash(err.message);
      }
    );
  });

  if (markAll) {
    markAll.addEventListener("click", function () {
      markAll.disabled = true;
      // What the user saw when clicking; the read_all frame then tells the
      // exact bound the server applied.
      var upTo = newestSeqShown();
      api("POST", "/api/v1/notifications/read-all").then(
        function () {
          markAllRead(upTo);
          countEpoch = ++epoch;
          setBadge(shownUnread());
          showFlash("");
        },
        function (err) {
          showFlash(err.message);
        }
      ).then(function () {
        markAll.disabled = false;
      });
    });
  }

  if (loadMore) {
    loadMore.addEventListener("click", function () {
      var before = loadMore.getAttribute("data-next-before");
      if (!before) return;
      loadMore.disabled = true;
      var start = epoch;
      api("GET", query(before)).then(
        function (page) {
          (page.data || []).forEach(function (n) {
            insert(n);
          });
          setNextBefore(page.next_before || "");
          if (countEpoch <= start) setBadge(page.unread_count);
          showFlash("");
        },
        function (err) {
          showFlash(err.message);
        }
      ).then(function () {
        loadMore.disabled = false;
      });
    });
  }

  // ---- reconcile: the page against the server --------------------------------
  var reconcileRunning = false;
  var reconcileAgain = false;
  var reconcileTimer = 0;
  var reconcileRetries = 0;
  var pendingFull = false;

  // requestReconcile runs one reconcile after a quiet moment: a burst of
  // mismatching counts costs one request.
  function requestReconcile() {
    if (reconcileTimer) window.clearTimeout(reconcileTimer);
    reconcileTimer = window.setTimeout(function () {
      reconcileTimer = 0;
      reconcile(false);
    }, RECONCILE_DEBOUNCE_MS);
  }

  // reconcile refetches the newest items of the current view, as many as
  // are shown (at least a page, at most 200), and applies the server's read
  // state, the missing items and the badge. With full set, the list is
  // replaced by the server's first page instead (after the resume point was
  // lost), keeping only what arrived live meanwhile.
  function reconcile(full) {
    if (reconcileRunning) {
      reconcileAgain = reconcileAgain || !full;
      if (full) pendingFull = true;
      return;
    }
    reconcileRunning = true;
    var start = epoch;
    var limit = full ? PAGE_SIZE : Math.min(RECONCILE_MAX, Math.max(itemCount(), PAGE_SIZE));
    api("GET", query("", limit)).then(
      function (page) {
        if (full) replaceWith(page, start);
        else applySnapshot(page, start);
        // A live change raced the request: look again, a few times at most.
        if (epoch !== start && reconcileRetries < 2) {
          reconcileRetries++;
          reconcileAgain = true;
        } else {
          reconcileRetries = 0;
        }
      },
      function () {
        // Nothing to undo: the next reconnect or count mismatch retries.
        reconcileRetries = 0;
      }
    ).then(function () {
      reconcileRunning = false;
      if (pendingFull) {
        pendingFull = false;
        reconcile(true);
      } else if (reconcileAgain) {
        reconcileAgain = false;
        reconcile(false);
      }
    });
  }

  function snapshotRead(n) {
    return n.read_at !== null && n.read_at !== undefined;
  }

  // within reports whether shown item li is newer than listed notification
  // n, i.e. inside the window a snapshot listed down to n.
  function within(li, n) {
    var s = seqOf(li);
    if (s > 0 && typeof n.seq === "number" && n.seq > 0) return s > n.seq;
    return li.getAttribute("data-id") > n.id;
  }

  function applySnapshot(page, start) {
    var data = page.data || [];
    var complete = !page.next_before;
    var oldest = data.length > 0 ? data[data.length - 1] : null;
    var listed = {};
    for (var i = 0; i < data.length; i++) {
      var n = data[i];
      if (!n || typeof n.id !== "string") continue;
      listed[n.id] = true;
      var li = findItem(n.id);
      if (li) {
        if (!changedSince(n.id, start)) setRead(li, snapshotRead(n));
      } else if (!(status === "unread" && snapshotRead(n))) {
        insert(n);
      }
    }
    if (status === "unread") {
      // The snapshot lists every unread item down to its oldest one: a
      // shown item in that range that it does not list was read elsewhere.
      for (var id in byId) {
        if (!Object.prototype.hasOwnProperty.call(byId, id) || listed[id]) continue;
        if ((complete || (oldest && within(byId[id], oldest))) && !changedSince(id, start)) setRead(byId[id], true);
      }
    }
    if (countEpoch <= start && readAllEpoch <= start) {
      setBadge(page.unread_count);
      // Nothing unread at all: that covers items beyond the window too.
      if (page.unread_count === 0 && epoch === start) markAllRead();
    }
    if (!since && status === "all" && data.length > 0) since = data[0].id;
  }

  function replaceWith(page, start) {
    // Keep what arrived or changed live after the request: it is newer.
    var keep = [];
    for (var id in byId) {
      if (Object.prototype.hasOwnProperty.call(byId, id) && (touched[id] || 0) > start) keep.push(byId[id]);
    }
    clearList();
    for (var k = 0; k < keep.length; k++) {
      byId[keep[k].getAttribute("data-id")] = keep[k];
      place(keep[k]);
    }
    (page.data || []).forEach(function (n) {
      insert(n);
    });
    setNextBefore(page.next_before || "");
    if (countEpoch <= start) setBadge(page.unread_count);
    var data = page.data || [];
    if (!since && status === "all" && data.length > 0) since = data[0].id;
    updateEmpty();
  }

  // checkCount compares the server's unread count with the page: more
  // unread items shown than the server counts, or any difference when the
  // page shows the whole inbox, means the page missed a change.
  function checkCount(n) {
    if (typeof n !== "number") return;
    var shown = shownUnread();
    if (n === 0) {
      if (shown > 0) markAllRead();
      return;
    }
    if (shown > n || (!hasMore() && shown !== n)) requestReconcile();
  }

  // ---- WebSocket ---------------------------------------------------------
  var socket = null;
  var attempt = 0;
  var retryTimer = 0;
  var held = false; // disconnected on purpose (debugging handle)
  var live = false;
  var sinceFailures = 0; // handshakes refused in a row while resuming
  var resetPending = false; // the next catch-up is followed by a full reload

  function setConn(state) {
    if (!conn) return;
    conn.textContent = state;
    conn.setAttribute("data-state", state);
  }

  function handle(frame) {
    switch (frame.type) {
      case "notification":
        var n = frame.notification;
        if (!n || typeof n.id !== "string") return;
        // Frames arrive in commit order (catch-up oldest first, then live),
        // so the latest one is where the next reconnect resumes.
        since = n.id;
        if (status === "unread" && snapshotRead(n)) return;
        if (insert(n)) touch(n.id);
        return;
      case "unread_count":
        countEpoch = ++epoch;
        setBadge(frame.unread_count);
        if (live) checkCount(frame.unread_count);
        return;
      case "read":
      case "unread":
        (frame.ids || []).forEach(function (id) {
          var li = findItem(id);
          if (li) {
            setRead(li, frame.type === "read");
            touch(id);
          } else if (frame.type === "unread" && status === "unread") {
            // An item outside this view became unread: fetch it.
            requestReconcile();
          }
        });
        return;
      case "read_all":
        markAllRead(typeof frame.up_to_seq === "number" ? frame.up_to_seq : 0);
        return;
    }
  }

  // caughtUp runs once per connection, when its first unread_count shows
  // the catch-up is over: the socket is registered, so what the snapshot
  // misses arrives live.
  function caughtUp() {
    live = true;
    attempt = 0;
    sinceFailures = 0;
    setConn("live");
    if (resetPending) {
      resetPending = false;
      reconcile(true);
    } else {
      reconcile(false);
    }
  }

  function connect() {
    retryTimer = 0;
    // One socket at a time: a timer left by a probe that finished after
    // an early reconnect (online, visibility) finds one already.
    if (socket || held || leaving) return;
    var proto = window.location.protocol === "https:" ? "wss:" : "ws:";
    var url = proto + "//" + window.location.host + "/ws";
    var resumed = since !== "";
    if (resumed) url += "?since=" + encodeURIComponent(since);
    var ws;
    try {
      ws = new WebSocket(url);
    } catch (e) {
      schedule();
      return;
    }
    socket = ws;
    live = false;
    var opened = false;
    ws.onopen = function () {
      opened = true;
    };
    ws.onmessage = function (ev) {
      if (socket !== ws) return;
      var frame;
      try {
        frame = JSON.parse(ev.data);
      } catch (e) {
        return;
      }
      if (!frame || typeof frame.type !== "string") return;
      var first = !live && frame.type === "unread_count";
      handle(frame);
      if (first) caughtUp();
    };
    ws.onclose = function (ev) {
      if (socket !== ws) return;
      socket = null;
      var wasLive = live;
      live = false;
      if (ev.code === 4001) {
        // The token expired: a new sign-in is needed.
        signIn();
        return;
      }
      setConn("reconnecting");
      if (wasLive) {
        // A working socket ended (network, 1013, 4008, restart): resume
        // from since.
        schedule();
        return;
      }
      if (!opened && resumed) sinceFailures++;
      probe();
    };
    ws.onerror = function () {
      // onclose follows and decides what to do.
    };
  }

  // probe finds out why a socket did not get going, since the browser
  // hides the handshake's status: 401 means signing in again; a working API
  // while resuming keeps failing means the server refuses since (400: e.g.
  // that notification is gone), so resume without it and reload the list.
  function probe() {
    api("GET", "/api/v1/notifications/unread-count").then(
      function (body) {
        if (sinceFailures >= SINCE_FAILURES_BEFORE_RESET && since) {
          since = "";
          sinceFailures = 0;
          resetPending = true;
        }
        if (body && countEpoch === epoch) setBadge(body.unread_count);
        schedule();
      },
      function () {
        schedule(); // unreachable or failing server; signIn() handled 401
      }
    );
  }

  // schedule reconnects with exponential backoff and full jitter, capped, so
  // a restarted server is not hit by every tab at once. The backoff resets
  // only once a connection got through its catch-up.
  function schedule() {
    if (retryTimer || held || leaving) return;
    var ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * Math.pow(2, attempt));
    attempt++;
    var delay = Math.max(100, Math.random() * ceiling);
    retryTimer = window.setTimeout(connect, delay);
  }

  function reconnectNow() {
    if (socket || held || leaving) return;
    if (retryTimer) window.clearTimeout(retryTimer);
    retryTimer = 0;
    attempt = 0;
    connect();
  }

  window.addEventListener("online", reconnectNow);
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") reconnectNow();
  });

  // A debugging handle (also used by the browser tests): take the socket
  // down and bring it back, e.g. to see a missed change reconciled.
  window.__notifyhub = {
    disconnect: function () {
      held = true;
      if (retryTimer) window.clearTimeout(retryTimer);
      retryTimer = 0;
      var ws = socket;
      socket = null;
      live = false;
      if (ws) ws.close(1000, "disconnected from the debugging handle");
      setConn("offline");
    },
    // reconnect resumes, optionally from another since.
    reconnect: function (from) {
      held = false;
      if (typeof from === "string") since = from;
      setConn("reconnecting");
      reconnectNow();
    },
    state: function () {
      return {
        since: since,
        live: live,
        connected: socket !== null,
        reconciling: reconcileRunning || reconcileTimer !== 0,
        attempt: attempt,
        items: itemCount(),
        badge: badgeCount
      };
    }
  };

  refreshTimes();
  window.setInterval(refreshTimes, 30000);
  connect();
})();
