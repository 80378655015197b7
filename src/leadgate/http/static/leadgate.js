/*! leadgate.js: leadgate's tag SDK. Plain JavaScript, no build step, no dependencies.
 *
 *   leadgate.init({writeKey: "...", endpoint: "https://collect.example.com"});
 *   leadgate.consent({marketing: true});
 *   leadgate.identify("user-123", {email: "jane@acme.com"});
 *   leadgate.track("Demo Requested", {plan: "team"}).then(function (r) { r.ok, r.messageId });
 *
 * Events are Segment-spec (so the collector also takes Segment's and RudderStack's SDKs). They
 * are queued and sent in batches to /v1/batch as text/plain with the write key in the body: a
 * CORS "simple request", so no preflight. Network errors, 5xx and 429 are retried with
 * exponential backoff (Retry-After honoured); what is still queued when the page goes away
 * leaves with sendBeacon. Every call returns a Promise that resolves (never rejects) to
 * {ok, messageId, error}. Nothing here throws into the host page.
 */
(function (win, doc) {
  "use strict";
  var VERSION = "0.1.0";
  var AID = "lg_aid", UID = "lg_uid", TRAITS = "lg_traits", CONSENT = "lg_consent";
  var MAX_BATCH_CHARS = 400000; // under the collector's 500 KB per batch
  var BEACON_CHARS = 60000; // browsers cap beacon and keepalive bodies at 64 KB in flight
  var cfg = null;
  var state = {};
  var queue = [];
  var timer = null;
  var inFlight = false;
  var sending = null; // the request in flight, so that an explicit flush can wait for it
  var attempt = 0;
  var nextDelay = 0;

  function assign(target) {
    for (var i = 1; i < arguments.length; i++) {
      var src = arguments[i];
      if (src && typeof src === "object") {
        for (var k in src) if (Object.prototype.hasOwnProperty.call(src, k)) target[k] = src[k];
      }
    }
    return target;
  }

  function uuid() {
    var c = win.crypto;
    if (c && c.randomUUID) return c.randomUUID();
    var b = new Uint8Array(16);
    c.getRandomValues(b);
    b[6] = (b[6] & 15) | 64;
    b[8] = (b[8] & 63) | 128;
    var h = "";
    for (var i = 0; i < 16; i++) h += (b[i] + 256).toString(16).slice(1);
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" +
      h.slice(16, 20) + "-" + h.slice(20);
  }

  function load(key) {
    try {
      var v = win.localStorage.getItem(key);
      return v == null ? undefined : JSON.parse(v);
    } catch (e) {
      return undefined;
    }
  }

  function save(key, value) {
    try {
      if (value === undefined) win.localStorage.removeItem(key);
      else win.localStorage.setItem(key, JSON.stringify(value));
    } catch (e) { /* storage full or blocked: the cookie still holds the anonymousId */ }
  }

  function readCookie(name) {
    var m = doc.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
    return m ? decodeURIComponent(m[1]) : null;
  }

  function writeCookie(name, value, maxAge) {
    doc.cookie = name + "=" + encodeURIComponent(value) + "; Path=/; Max-Age=" + maxAge +
      "; SameSite=Lax" + (win.location.protocol === "https:" ? "; Secure" : "") +
      (cfg && cfg.cookieDomain ? "; Domain=" + cfg.cookieDomain : "");
  }

  // First-party cookie and localStorage hold the same id; either one restores the other.
  function anonymousId() {
    var id = readCookie(AID) || load(AID);
    if (typeof id !== "string" || !/^[\w-]{1,64}$/.test(id)) id = uuid();
    writeCookie(AID, id, 31536000);
    save(AID, id);
    return id;
  }

  function pageContext() {
    var loc = win.location;
    return {path: loc.pathname, url: loc.href, search: loc.search, referrer: doc.referrer,
      title: doc.title};
  }

  function settle(item, ok, error) {
    item.done({ok: ok, messageId: item.ev.messageId, error: error || null});
  }

  function enqueue(type, fields) {
    return new Promise(function (done) {
      if (!cfg) {
        done({ok: false, messageId: null, error: "not_initialised"});
        return;
      }
      var context = {
        library: {name: "leadgate.js", version: VERSION},
        page: pageContext(),
        userAgent: win.navigator.userAgent,
        locale: win.navigator.language,
        traits: assign({}, state.traits)
      };
      if (state.consent) context.consent = {categories: assign({}, state.consent)};
      var ev = {type: type, messageId: uuid(), anonymousId: state.anonymousId,
        timestamp: new Date().toISOString(), context: context};
      if (state.userId) ev.userId = state.userId;
      queue.push({ev: assign(ev, fields), done: done});
      schedule(queue.length >= cfg.flushAt ? 0 : cfg.flushInterval);
    });
  }

  function schedule(ms) {
    if (inFlight || !queue.length) return;
    if (timer) {
      if (ms > 0) return;
      clearTimeout(timer);
    }
    timer = setTimeout(flush, ms);
  }

  // Take queued events for one request, within a size budget (one oversized event goes alone
  // and gets its per-event error back).
  function take(budget) {
    var items = [], size = 0;
    while (queue.length && items.length < cfg.flushAt) {
      var n = JSON.stringify(queue[0].ev).length + 1;
      if (items.length && size + n > budget) break;
      items.push(queue.shift());
      size += n;
    }
    return items;
  }

  function body(items) {
    return JSON.stringify({
      batch: items.map(function (item) { return item.ev; }),
      writeKey: cfg.writeKey,
      sentAt: new Date().toISOString()
    });
  }

  function retry(items, retryAfter) {
    attempt += 1;
    if (attempt > cfg.maxRetries) {
      attempt = 0;
      items.forEach(function (item) { settle(item, false, "retries_exhausted"); });
      return;
    }
    queue = items.concat(queue);
    var seconds = parseFloat(retryAfter);
    var backoff = Math.min(cfg.maxBackoff, cfg.minBackoff * Math.pow(2, attempt - 1));
    nextDelay = seconds >= 0 ? seconds * 1000 : backoff * (0.5 + Math.random() / 2);
  }

  function accepted(items, response) {
    attempt = 0;
    return response.json().then(function (data) {
      var failed = {};
      (data && data.errors || []).forEach(function (e) { failed[e.index] = e.code; });
      items.forEach(function (item, i) { settle(item, !failed[i], failed[i]); });
    }, function () {
      items.forEach(function (item) { settle(item, true); });
    });
  }

  function refused(items, response) {
    attempt = 0;
    return response.json().then(function (data) {
      return data && data.error && data.error.code;
    }, function () { return null; }).then(function (code) {
      items.forEach(function (item) { settle(item, false, code || "http_" + response.status); });
    });
  }

  function flush() {
    if (timer) clearTimeout(timer); // called early (leadgate.flush()): the timer has nothing left
    timer = null;
    if (inFlight || !queue.length || !cfg) return Promise.resolve();
    inFlight = true;
    var items = take(MAX_BATCH_CHARS);
    var text = body(items);
    var request;
    try {
      request = win.fetch(cfg.endpoint + "/v1/batch", {
        method: "POST",
        headers: {"Content-Type": "text/plain"},
        body: text,
        credentials: "omit",
        keepalive: text.length < BEACON_CHARS
      });
    } catch (e) {
      request = Promise.reject(e);
    }
    sending = request.then(function (response) {
      if (response.status === 200) return accepted(items, response);
      if (response.status === 429 || response.status >= 500) {
        return retry(items, response.headers.get("Retry-After"));
      }
      return refused(items, response);
    }, function () {
      retry(items, null);
    }).then(function () {
      inFlight = false;
      var delay = nextDelay;
      nextDelay = 0;
      schedule(delay);
    });
    return sending;
  }

  // leadgate.flush(): waits for the request in flight (if any), then sends the next batch (up to
  // flushAt events) and resolves when that answer is in. Without the wait, a flush called while
  // a request is in flight would resolve at once and send nothing.
  function flushQueued() {
    if (inFlight) return sending.then(function () { return flush(); });
    return flush();
  }

  // The page is going away: hand what is queued to the browser, which sends it after unload.
  function beacon() {
    if (!cfg || !queue.length || !win.navigator.sendBeacon) return;
    while (queue.length) {
      var items = take(BEACON_CHARS);
      var blob = new Blob([body(items)], {type: "text/plain"});
      if (!win.navigator.sendBeacon(cfg.endpoint + "/v1/batch", blob)) {
        queue = items.concat(queue);
        return;
      }
      items.forEach(function (item) { settle(item, true, null); });
    }
  }

  var leadgate = {
    VERSION: VERSION,
    init: function (options) {
      cfg = assign({endpoint: "", flushAt: 20, flushInterval: 100, maxRetries: 10,
        minBackoff: 500, maxBackoff: 30000}, options);
      cfg.endpoint = String(cfg.endpoint || "").replace(/\/+$/, "");
      state.anonymousId = anonymousId();
      state.userId = load(UID);
      state.traits = load(TRAITS) || {};
      state.consent = load(CONSENT);
      win.addEventListener("pagehide", beacon);
      doc.addEventListener("visibilitychange", function () {
        if (doc.visibilityState === "hidden") beacon();
      });
      return leadgate;
    },
    identify: function (userId, traits) {
      if (userId && typeof userId === "object") {
        traits = userId;
        userId = null;
      }
      if (userId != null && userId !== "") {
        state.userId = String(userId);
        save(UID, state.userId);
      }
      state.traits = assign(state.traits || {}, traits);
      save(TRAITS, state.traits);
      return enqueue("identify", {traits: assign({}, traits)});
    },
    track: function (event, properties) {
      return enqueue("track", {event: String(event), properties: assign({}, properties)});
    },
    page: function (name, properties) {
      var fields = {properties: assign(pageContext(), properties)};
      if (name) fields.name = String(name);
      return enqueue("page", fields);
    },
    // Only a literal true grants a category; anything else is recorded as not granted.
    consent: function (categories) {
      var next = assign({}, state.consent);
      for (var k in categories) {
        if (Object.prototype.hasOwnProperty.call(categories, k)) next[k] = categories[k] === true;
      }
      state.consent = next;
      save(CONSENT, next);
      return assign({}, next);
    },
    flush: function () { return flushQueued(); },
    anonymousId: function () { return state.anonymousId; },
    reset: function () {
      state = {anonymousId: uuid(), traits: {}};
      writeCookie(AID, state.anonymousId, 31536000);
      save(AID, state.anonymousId);
      save(UID);
      save(TRAITS);
      save(CONSENT);
    }
  };

  win.leadgate = leadgate;
})(window, document);
