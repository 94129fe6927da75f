// center.js drives the notification center page rendered by web/view:
// a WebSocket to /ws for live notifications and cross-tab read state, and
// fetch calls to the REST API for mark read/unread/all and "load more".
// Notification text is only ever set with textContent, never parsed as HTML.
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
  var status = list.getAttribute("data-status") || "all";
  var since = list.getAttribute("data-since") || "";
  var baseTitle = document.title.replace(/^\(\d+\)\s*/, "");

  var SEVERITIES = { info: "Info", success: "Success", warning: "Warning", critical: "Critical" };
  var BACKOFF_BASE_MS = 500;
  var BACKOFF_CAP_MS = 10000;

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

  function findItem(id) {
    var items = list.querySelectorAll('[data-testid="notification"]');
    for (var i = 0; i < items.length; i++) {
      if (items[i].getAttribute("data-id") === id) return items[i];
    }
    return null;
  }

  function setRead(li, read) {
    li.setAttribute("data-read", read ? "true" : "false");
    var r = li.querySelector('[data-testid="mark-read"]');
    var u = li.querySelector('[data-testid="mark-unread"]');
    if (r) r.hidden = read;
    if (u) u.hidden = !read;
  }

  function updateEmpty() {
    if (empty) empty.hidden = list.children.length > 0;
  }

  function setBadge(n) {
    if (!badge || typeof n !== "number" || n < 0) return;
    badge.textContent = String(n);
    badge.classList.toggle("badge--zero", n === 0);
    document.title = n > 0 ? "(" + n + ") " + baseTitle : baseTitle;
  }

  // insert adds n unless already shown: at the top for new ones, at the
  // bottom for older pages.
  function insert(n, atTop) {
    if (!n || typeof n.id !== "string" || findItem(n.id)) return;
    var li = renderItem(n);
    if (atTop) list.insertBefore(li, list.firstChild);
    else list.appendChild(li);
    updateEmpty();
  }

  function showFlash(msg) {
    if (!flash) return;
    flash.textContent = msg;
    flash.hidden = !msg;
  }

  // ---- REST ------------------------------------------------------------
  function api(method, path) {
    return fetch(path, {
      method: method,
      credentials: "same-origin",
      headers: { Accept: "application/json" }
    }).then(function (res) {
      if (res.status === 401) {
        window.location.assign("/login");
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

  list.addEventListener("click", function (ev) {
    var btn = ev.target.closest('[data-testid="mark-read"], [data-testid="mark-unread"]');
    if (!btn) return;
    var li = btn.closest('[data-testid="notification"]');
    if (!li) return;
    var id = li.getAttribute("data-id");
    var toRead = btn.getAttribute("data-testid") === "mark-read";
    var before = li.getAttribute("data-read") === "true";
    setRead(li, toRead); // optimistic; the socket confirms in every tab
    api("POST", "/api/v1/notifications/" + encodeURIComponent(id) + (toRead ? "/read" : "/unread")).then(
      function () {
        showFlash("");
      },
      function (err) {
        setRead(li, before);
        showFlash(err.message);
      }
    );
  });

  if (markAll) {
    markAll.addEventListener("click", function () {
      markAll.disabled = true;
      api("POST", "/api/v1/notifications/read-all").then(
        function () {
          markAllRead();
          setBadge(0);
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

  function markAllRead() {
    var items = list.querySelectorAll('[data-testid="notification"]');
    for (var i = 0; i < items.length; i++) setRead(items[i], true);
  }

  function query(before, limit) {
    var q = "/api/v1/notifications?status=" + encodeURIComponent(status);
    if (before) q += "&before=" + encodeURIComponent(before);
    if (limit) q += "&limit=" + limit;
    return q;
  }

  if (loadMore) {
    loadMore.addEventListener("click", function () {
      var before = loadMore.getAttribute("data-next-before");
      if (!before) return;
      loadMore.disabled = true;
      api("GET", query(before)).then(
        function (page) {
          (page.data || []).forEach(function (n) {
            insert(n, false);
          });
          var next = page.next_before || "";
          loadMore.setAttribute("data-next-before", next);
          loadMore.hidden = !next;
          setBadge(page.unread_count);
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

  // ---- WebSocket ---------------------------------------------------------
  var socket = null;
  var attempt = 0;
  var retryTimer = 0;

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
        if (status === "unread" && n.read_at) return;
        insert(n, true);
        return;
      case "unread_count":
        setBadge(frame.unread_count);
        return;
      case "read":
      case "unread":
        (frame.ids || []).forEach(function (id) {
          var li = findItem(id);
          if (li) setRead(li, frame.type === "read");
        });
        return;
      case "read_all":
        markAllRead();
        return;
    }
  }

  // backfill closes the gap between the server-rendered page and the first
  // socket when the user had no notification to resume from.
  function backfill() {
    api("GET", query("", 50)).then(function (page) {
      var data = page.data || [];
      for (var i = data.length - 1; i >= 0; i--) insert(data[i], true);
      if (data.length > 0 && !since) since = data[0].id;
    }, function () {});
  }

  function connect() {
    retryTimer = 0;
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
    ws.onopen = function () {
      attempt = 0;
      setConn("live");
      if (!resumed) backfill();
    };
    ws.onmessage = function (ev) {
      var frame;
      try {
        frame = JSON.parse(ev.data);
      } catch (e) {
        return;
      }
      if (frame && typeof frame.type === "string") handle(frame);
    };
    ws.onclose = function (ev) {
      if (socket !== ws) return;
      socket = null;
      setConn("reconnecting");
      if (ev.code === 4001) {
        // The token expired: a new sign-in is needed.
        window.location.assign("/login");
        return;
      }
      schedule();
    };
    ws.onerror = function () {
      // onclose follows and schedules the retry.
    };
  }

  // schedule reconnects with exponential backoff and full jitter, capped, so
  // a restarted server is not hit by every tab at once.
  function schedule() {
    if (retryTimer) return;
    var ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * Math.pow(2, attempt));
    attempt++;
    var delay = Math.max(100, Math.random() * ceiling);
    retryTimer = window.setTimeout(connect, delay);
  }

  window.addEventListener("online", function () {
    if (!socket && retryTimer) {
      window.clearTimeout(retryTimer);
      attempt = 0;
      connect();
    }
  });

  refreshTimes();
  window.setInterval(refreshTimes, 30000);
  connect();
})();
