// dashboard.js keeps the operations dashboard rendered by web/view live.
// It polls the tenant's event log (GET /api/v1/events?after=) every few
// seconds while the tab is visible, adds new events to the feed (newest
// first, no duplicates, at most data-limit rows), applies the stock changes
// they carry to the stock table, recounts the counters and refreshes the
// unread badge. Text from the server is only ever set with textContent.
(function () {
  "use strict";

  var feed = document.getElementById("feed");
  if (!feed) return;
  var stock = document.getElementById("stock");
  var statusEl = document.querySelector('[data-testid="feed-status"]');
  var badge = document.querySelector('[data-testid="unread-badge"]');
  var lowCount = document.querySelector('[data-testid="low-count"]');
  var feedCount = document.querySelector('[data-testid="feed-count"]');
  var typeCounts = document.querySelector('[data-testid="type-counts"]');
  var feedEmpty = document.querySelector('[data-testid="feed-empty"]');
  var stockEmpty = document.querySelector('[data-testid="stock-empty"]');

  var LIMIT = parseInt(feed.getAttribute("data-limit"), 10) || 100;
  var POLL_MS = 2500;
  var BACKOFF_CAP_MS = 30000;
  var PAGE = 200; // events per poll; a full page means we fell far behind
  // Each poll re-reads from the OVERLAP-th newest event shown: an event
  // whose transaction committed late, behind newer ones already shown,
  // still turns up (the log pages by position, not by commit time).
  var OVERLAP = 20;
  var MAX_PRODUCTS = 1000; // as the server-rendered page
  var SUMMARY_MAX = 160; // as view.EventSummary

  var own = Object.prototype.hasOwnProperty;

  // ---- relative time (as view.Ago) ----------------------------------------
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
    var times = feed.querySelectorAll("time[datetime]");
    for (var i = 0; i < times.length; i++) {
      var d = new Date(times[i].getAttribute("datetime"));
      if (!isNaN(d.getTime())) times[i].textContent = ago(d, now);
    }
  }

  // ---- summaries (the rules of view.EventSummary) ---------------------------
  function isObject(v) {
    return v !== null && typeof v === "object" && !Array.isArray(v);
  }
  function scalar(v) {
    if (typeof v === "string") return v;
    if (typeof v === "number" && isFinite(v)) return String(v);
    if (typeof v === "boolean") return v ? "true" : "false";
    return "";
  }
  function sortedKeys(v) {
    return isObject(v) ? Object.keys(v).sort() : [];
  }
  function joinNonEmpty(parts, sep) {
    return parts.filter(function (p) {
      return p !== "";
    }).join(sep);
  }
  function words(a, b) {
    return joinNonEmpty([a, b], " ");
  }
  function labelled(label, v) {
    return v === "" ? "" : label + " " + v;
  }
  function signed(q) {
    if (q === "" || q === "0" || q.charAt(0) === "-") return q;
    return "+" + q;
  }
  function truncate(s, n) {
    var r = Array.from(s);
    return r.length <= n ? s : r.slice(0, n - 1).join("") + "\u2026";
  }
  function summarize(type, payload) {
    if (!isObject(payload)) return "";
    function f(k) {
      return own.call(payload, k) ? scalar(payload[k]) : "";
    }
    var parts;
    switch (type) {
      case "ProductCreated":
        parts = [words(f("sku"), f("name")), "created", labelled("reorder level", f("reorder_level"))];
        break;
      case "ProductUpdated":
        parts = [f("sku"), labelled("changed", sortedKeys(payload.changes).join(", "))];
        break;
      case "ProductDeleted":
        parts = [words(f("sku"), f("name")), "deleted"];
        break;
      case "StockMovementRecorded":
        parts = [words(f("sku"), signed(f("quantity"))), f("reason"), labelled("on hand", f("on_hand"))];
        break;
      case "LowStockDetected":
        parts = [words(f("sku"), f("name")), labelled("on hand", f("on_hand")), labelled("reorder level", f("reorder_level"))];
        break;
      case "StockExpiring":
        parts = [words(f("sku"), labelled("batch", f("batch_number"))), labelled("expires", f("expiry_date")), labelled("days left", f("days_remaining"))];
        break;
      case "OrderCreated":
      case "OrderApproved":
      case "OrderFulfilled":
        parts = [words(f("number"), type.slice("Order".length).toLowerCase()), labelled("total", f("total"))];
        break;
      case "InvoiceGenerated":
        parts = [words(f("number"), labelled("for", f("order_number"))), labelled("total", f("total")), labelled("due", f("due_date"))];
        break;
      case "InvoicePaymentReceived":
        parts = [words(f("number"), labelled("paid", f("amount"))), labelled("outstanding", f("outstanding"))];
        break;
      case "InvoiceOverdue":
        parts = [words(f("number"), "overdue"), labelled("days", f("days_overdue")), labelled("outstanding", f("outstanding"))];
        break;
      case "CustomerCreated":
        parts = [words(f("name"), "new customer")];
        break;
      case "LeadConverted":
        parts = [words(f("name"), "lead converted")];
        break;
      case "PurchaseOrderApproved":
        parts = [words(f("number"), "approved"), f("vendor_name"), labelled("total", f("total"))];
        break;
      case "GoodsReceived":
        parts = [words(f("number"), "goods received"), labelled("complete", f("fully_received"))];
        break;
      default:
        parts = [];
        var keys = sortedKeys(payload);
        for (var i = 0; i < keys.length && parts.length < 3; i++) {
          var k = keys[i];
          if (k === "id" || /_id$/.test(k)) continue;
          var v = scalar(payload[k]);
          if (v !== "") parts.push(k + " " + v);
        }
    }
    return truncate(joinNonEmpty(parts, " \u00b7 "), SUMMARY_MAX);
  }
  function aggregateLabel(kind, id) {
    var short = Array.from(typeof id === "string" ? id : "").slice(0, 8).join("");
    return ((typeof kind === "string" ? kind : "") + " " + short).trim();
  }

  // ---- DOM -----------------------------------------------------------------
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function field(e, name) {
    e.setAttribute("data-field", name);
    return e;
  }

  // eventRow mirrors the templ component view.eventRow.
  function eventRow(e) {
    var li = el("li", "feed__row");
    li.setAttribute("data-testid", "event-row");
    li.setAttribute("data-id", e.id);
    li.setAttribute("data-type", e.type);
    li.appendChild(field(el("span", "feed__type", e.type), "type"));
    li.appendChild(field(el("span", "feed__summary", summarize(e.type, e.payload)), "summary"));
    var meta = el("span", "feed__meta");
    meta.appendChild(field(el("span", "", aggregateLabel(e.aggregate_type, e.aggregate_id)), "aggregate"));
    meta.appendChild(field(el("span", "", e.actor_id ? String(e.actor_id) : "system"), "actor"));
    var time = field(el("time"), "time");
    time.setAttribute("datetime", e.occurred_at);
    var at = new Date(e.occurred_at);
    time.textContent = isNaN(at.getTime()) ? "" : ago(at, Date.now());
    meta.appendChild(time);
    li.appendChild(meta);
    return li;
  }

  // stockRow mirrors the templ component view.stockRow.
  function stockRow(p) {
    var tr = el("tr", "stock__row");
    tr.setAttribute("data-testid", "stock-row");
    tr.setAttribute("data-product-id", p.id);
    tr.appendChild(field(el("td"), "sku"));
    tr.appendChild(field(el("td"), "name"));
    tr.appendChild(field(el("td", "num"), "on-hand"));
    tr.appendChild(field(el("td", "num"), "reorder-level"));
    setStock(tr, p.sku, p.name, p.on_hand, p.reorder_level);
    return tr;
  }

  function num(v, fallback) {
    return typeof v === "number" && isFinite(v) ? Math.trunc(v) : fallback;
  }
  function text(v, fallback) {
    return typeof v === "string" ? v : fallback;
  }

  function setStock(tr, sku, name, onHand, reorder) {
    onHand = num(onHand, 0);
    reorder = num(reorder, 0);
    var low = onHand < reorder;
    tr.setAttribute("data-sku", sku);
    tr.setAttribute("data-on-hand", String(onHand));
    tr.setAttribute("data-reorder-level", String(reorder));
    tr.setAttribute("data-low", low ? "true" : "false");
    tr.classList.toggle("stock__row--low", low);
    tr.querySelector('[data-field="sku"]').textContent = sku;
    tr.querySelector('[data-field="name"]').textContent = name;
    tr.querySelector('[data-field="on-hand"]').textContent = String(onHand);
    tr.querySelector('[data-field="reorder-level"]').textContent = String(reorder);
  }

  function stockOf(tr) {
    return {
      sku: tr.getAttribute("data-sku") || "",
      name: tr.querySelector('[data-field="name"]').textContent,
      onHand: parseInt(tr.getAttribute("data-on-hand"), 10) || 0,
      reorder: parseInt(tr.getAttribute("data-reorder-level"), 10) || 0
    };
  }

  // ---- state -------------------------------------------------------------
  var events = {}; // event id -> row
  var products = {}; // product id -> row
  (function index() {
    var i;
    for (i = 0; i < feed.children.length; i++) events[feed.children[i].getAttribute("data-id")] = feed.children[i];
    if (!stock) return;
    for (i = 0; i < stock.children.length; i++) products[stock.children[i].getAttribute("data-product-id")] = stock.children[i];
  })();

  function cursor() {
    var n = feed.children.length;
    if (n === 0) return "";
    return feed.children[Math.min(OVERLAP, n) - 1].getAttribute("data-id");
  }

  function trimFeed() {
    while (feed.children.length > LIMIT) {
      var last = feed.lastElementChild;
      delete events[last.getAttribute("data-id")];
      feed.removeChild(last);
    }
  }

  // merge adds the events of one page (oldest first, all after the row of
  // after) that are not shown yet, each just above its predecessor in the
  // page, so the feed keeps the log's order however late a row turns up.
  // It returns the new events, oldest first.
  function merge(after, page) {
    var anchor = after && own.call(events, after) ? events[after] : null;
    var added = [];
    for (var i = 0; i < page.length; i++) {
      var e = page[i];
      if (!e || typeof e.id !== "string" || typeof e.type !== "string") continue;
      if (own.call(events, e.id)) {
        anchor = events[e.id];
        continue;
      }
      var li = eventRow(e);
      events[e.id] = li;
      feed.insertBefore(li, anchor); // null anchor: the feed was empty
      anchor = li;
      added.push(e);
    }
    trimFeed();
    return added;
  }

  // replaceFeed shows page (newest first) instead of the current feed.
  function replaceFeed(page) {
    while (feed.firstChild) feed.removeChild(feed.firstChild);
    events = {};
    for (var i = 0; i < page.length; i++) {
      var e = page[i];
      if (!e || typeof e.id !== "string" || typeof e.type !== "string" || own.call(events, e.id)) continue;
      var li = eventRow(e);
      events[e.id] = li;
      feed.appendChild(li);
    }
    trimFeed();
  }

  // applyStock applies what an event says about a product's stock. Values
  // are absolute (on hand after the movement), so a repeat is harmless.
  function applyStock(e) {
    if (!stock) return false;
    var p = isObject(e.payload) ? e.payload : {};
    var id = text(p.product_id, text(e.aggregate_id, ""));
    if (id === "") return false;
    var tr = own.call(products, id) ? products[id] : null;
    var cur;
    switch (e.type) {
      case "ProductCreated":
        if (tr) return false;
        tr = stockRow({ id: id, sku: text(p.sku, ""), name: text(p.name, ""), on_hand: 0, reorder_level: p.reorder_level });
        products[id] = tr;
        stock.appendChild(tr);
        return true;
      case "ProductDeleted":
        if (!tr) return false;
        delete products[id];
        stock.removeChild(tr);
        return true;
      case "ProductUpdated":
        if (!tr) return false;
        cur = stockOf(tr);
        var ch = isObject(p.changes) ? p.changes : {};
        setStock(tr, text(p.sku, cur.sku), text(newValue(ch, "name"), cur.name), cur.onHand, num(newValue(ch, "reorder_level"), cur.reorder));
        return true;
      case "StockMovementRecorded":
        if (!tr || typeof p.on_hand !== "number") return false;
        cur = stockOf(tr);
        setStock(tr, cur.sku, cur.name, p.on_hand, cur.reorder);
        return true;
      case "LowStockDetected":
        if (!tr || typeof p.on_hand !== "number") return false;
        cur = stockOf(tr);
        setStock(tr, cur.sku, cur.name, p.on_hand, num(p.reorder_level, cur.reorder));
        return true;
    }
    return false;
  }

  // newValue is the new value of one field of ProductUpdated's changes.
  function newValue(changes, key) {
    var c = changes[key];
    return isObject(c) && own.call(c, "new") ? c["new"] : undefined;
  }

  // sortStock keeps view.SortStock's order: low first, the largest
  // shortfall first, then by SKU.
  function sortStock() {
    if (!stock) return;
    var rows = Array.prototype.slice.call(stock.children);
    var keyed = rows.map(function (tr) {
      var s = stockOf(tr);
      return { tr: tr, low: s.onHand < s.reorder, short: s.reorder - s.onHand, sku: s.sku };
    });
    keyed.sort(function (a, b) {
      if (a.low !== b.low) return a.low ? -1 : 1;
      if (a.low && a.short !== b.short) return b.short - a.short;
      return a.sku < b.sku ? -1 : a.sku > b.sku ? 1 : 0;
    });
    for (var i = 0; i < keyed.length; i++) {
      if (stock.children[i] !== keyed[i].tr) stock.insertBefore(keyed[i].tr, stock.children[i] || null);
    }
  }

  function replaceStock(list) {
    if (!stock) return;
    while (stock.firstChild) stock.removeChild(stock.firstChild);
    products = {};
    for (var i = 0; i < list.length; i++) {
      var p = list[i];
      if (!p || typeof p.id !== "string" || own.call(products, p.id)) continue;
      var tr = stockRow({ id: p.id, sku: text(p.sku, ""), name: text(p.name, ""), on_hand: p.on_hand, reorder_level: p.reorder_level });
      products[p.id] = tr;
      stock.appendChild(tr);
    }
  }

  // recount derives every counter from what the page holds.
  function recount() {
    var byType = {};
    var types = [];
    for (var i = 0; i < feed.children.length; i++) {
      var t = feed.children[i].getAttribute("data-type");
      if (!own.call(byType, t)) {
        byType[t] = 0;
        types.push(t);
      }
      byType[t]++;
    }
    types.sort(function (a, b) {
      if (byType[a] !== byType[b]) return byType[b] - byType[a];
      return a < b ? -1 : a > b ? 1 : 0;
    });
    if (typeCounts) {
      while (typeCounts.firstChild) typeCounts.removeChild(typeCounts.firstChild);
      types.forEach(function (t) {
        var li = el("li", "type-count");
        li.setAttribute("data-testid", "type-count");
        li.setAttribute("data-type", t);
        li.setAttribute("data-count", String(byType[t]));
        li.appendChild(el("span", "type-count__type", t));
        li.appendChild(el("span", "type-count__n", String(byType[t])));
        typeCounts.appendChild(li);
      });
    }
    if (feedCount) feedCount.textContent = String(feed.children.length);
    if (feedEmpty) feedEmpty.hidden = feed.children.length > 0;
    if (stock) {
      var low = 0;
      for (var j = 0; j < stock.children.length; j++) if (stock.children[j].getAttribute("data-low") === "true") low++;
      if (lowCount) lowCount.textContent = String(low);
      if (stockEmpty) stockEmpty.hidden = stock.children.length > 0;
    }
  }

  function setBadge(n) {
    if (!badge || typeof n !== "number" || n < 0) return;
    badge.textContent = String(n);
    badge.classList.toggle("badge--zero", n === 0);
  }

  function setStatus(state) {
    if (!statusEl) return;
    statusEl.textContent = state;
    statusEl.setAttribute("data-state", state);
  }

  // ---- REST ----------------------------------------------------------------
  var leaving = false;

  // get fetches JSON; 401 goes to the login page. The error carries the
  // status so callers can tell a lost cursor (404) from an outage.
  function get(path) {
    return fetch(path, { credentials: "same-origin", headers: { Accept: "application/json" } }).then(function (res) {
      if (res.status === 401) {
        if (!leaving) {
          leaving = true;
          window.location.assign("/login");
        }
      }
      if (!res.ok) {
        var err = new Error("request failed (" + res.status + ")");
        err.status = res.status;
        throw err;
      }
      return res.json();
    });
  }

  function pollEvents() {
    var after = cursor();
    var q = "/api/v1/events?limit=" + PAGE + (after ? "&after=" + encodeURIComponent(after) : "");
    return get(q).then(
      function (body) {
        var page = (body && body.data) || [];
        if (body && body.next) return catchUp(); // too far behind to page forward
        var added = merge(after, page);
        var changed = false;
        for (var i = 0; i < added.length; i++) changed = applyStock(added[i]) || changed;
        if (changed) sortStock();
        if (added.length > 0) recount();
      },
      function (err) {
        // The cursor is not in the log any more (or never was): start over.
        if (err.status === 404 || err.status === 400) return catchUp();
        throw err;
      }
    );
  }

  // catchUp jumps to the newest events and rereads the stock, instead of
  // paging through everything missed; events first, so the stock read is
  // at least as new as the feed.
  function catchUp() {
    return get("/api/v1/events?order=desc&limit=" + LIMIT)
      .then(function (body) {
        replaceFeed((body && body.data) || []);
        return readProducts("", []);
      })
      .then(function (list) {
        replaceStock(list);
        sortStock();
        recount();
      });
  }

  function readProducts(after, acc) {
    var q = "/api/v1/products?limit=200" + (after ? "&after=" + encodeURIComponent(after) : "");
    return get(q).then(function (body) {
      var page = (body && body.data) || [];
      acc = acc.concat(page);
      if (!body.next || page.length === 0 || acc.length >= MAX_PRODUCTS) return acc.slice(0, MAX_PRODUCTS);
      return readProducts(body.next, acc);
    });
  }

  function pollUnread() {
    return get("/api/v1/notifications/unread-count").then(function (body) {
      if (body) setBadge(body.unread_count);
    });
  }

  // ---- polling ---------------------------------------------------------------
  var timer = 0;
  var inflight = false;
  var failures = 0;

  function schedule(delay) {
    if (timer) window.clearTimeout(timer);
    timer = window.setTimeout(tick, delay);
  }

  function tick() {
    timer = 0;
    if (leaving) return;
    if (document.hidden) {
      setStatus("paused"); // visibilitychange resumes
      return;
    }
    inflight = true;
    Promise.all([pollEvents(), pollUnread()]).then(
      function () {
        inflight = false;
        failures = 0;
        setStatus("live");
        schedule(POLL_MS);
      },
      function () {
        inflight = false;
        if (leaving) return;
        failures++;
        setStatus("retrying");
        // Exponential backoff with full jitter, capped.
        var ceiling = Math.min(BACKOFF_CAP_MS, POLL_MS * Math.pow(2, failures));
        schedule(Math.max(POLL_MS, Math.random() * ceiling));
      }
    );
  }

  document.addEventListener("visibilitychange", function () {
    if (document.hidden) {
      if (!inflight) {
        if (timer) window.clearTimeout(timer);
        timer = 0;
        setStatus("paused");
      }
      return;
    }
    if (!inflight) {
      if (timer) window.clearTimeout(timer);
      tick();
    }
  });

  refreshTimes();
  window.setInterval(refreshTimes, 30000);
  tick();
})();
