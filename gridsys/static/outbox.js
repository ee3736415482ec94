// The phone's outbox: reports wait in IndexedDB (idb) and are sent through the JSON API, each
// exactly once (client UUIDs for reports and photos): the report first, then each photo as its
// own upload. A report belongs to whoever was logged in on this browser when it was logged.
// Nothing is taken as stored unless the app said so in JSON about that very report or photo.
window.GridsysOutbox = (function () {
  "use strict";
  var DB_NAME = "gridsys-field", STORE = "reports", USER_COOKIE = "gridsys_user";
  var REQUEST_TIMEOUT = 20000, KEEP_SENT_MS = 3 * 24 * 3600 * 1000;
  var PENDING = {queued: 1, sending: 1};

  function browserUser() {
    var m = document.cookie.match(/(?:^|;\s*)gridsys_user=([^;]*)/);
    if (!m) { return null; }
    var v = decodeURIComponent(m[1]);
    return v.charAt(0) === '"' ? v.slice(1, -1) : v;
  }

  function withTimeout(url, options) {
    var abort = window.AbortController ? new AbortController() : null;
    var timer = abort && setTimeout(function () { abort.abort(); }, REQUEST_TIMEOUT);
    if (abort) { options.signal = abort.signal; }
    return fetch(url, options).then(function (r) { clearTimeout(timer); return r; },
                                     function (e) { clearTimeout(timer); throw e; });
  }
  function readJson(r) {   // {status, body, json}: json false for anything but an app's JSON answer
    var isJson = /json/.test(r.headers.get("Content-Type") || "") && !r.redirected;
    return r.text().then(function (t) {
      var b = null;
      if (isJson) { try { b = JSON.parse(t); } catch (e) { b = null; } }
      return {status: r.status, body: b, json: !!b};
    });
  }
  var NO_ANSWER = {status: 0, body: null, json: false};

  function create(opts) {
    var db = null, sending = false, retryTimer = null, retryDelay = 10000;
    var U = opts.urls;

    function open() {
      if (!window.indexedDB || !window.idb) { return Promise.resolve(false); }
      return idb.openDB(DB_NAME, 1, {
        upgrade: function (d) { d.createObjectStore(STORE, {keyPath: "client_uuid"}); },
        blocking: function () { if (db) { db.close(); db = null; } }   // a newer version in another tab
      }).then(function (d) { db = d; return cleanUp(); }, function () { return false; });
    }
    // A correction left half-way is a refusal again; sent reports are kept a few days, then go.
    function cleanUp() {
      return all().then(function (items) {
        var now = Date.now();
        return Promise.all(items.map(function (it) {
          if (it.state === "editing") { it.state = "refused"; return put(it); }
          if (it.state === "sent" && now - (it.sent_at || it.created) > KEEP_SENT_MS) { return db.delete(STORE, it.client_uuid); }
          return null;
        }));
      }).then(function () { return true; });
    }
    function all() { return db ? db.getAll(STORE) : Promise.resolve([]); }
    function get(uuid) { return db.get(STORE, uuid); }
    function put(item) { return db.put(STORE, item); }
    function remove(uuid) { return db.delete(STORE, uuid); }

    // --- talking to the app -----------------------------------------------------------------
    function fetchMe() {
      return withTimeout(U.me, {credentials: "same-origin", cache: "no-store", headers: {Accept: "application/json"}})
        .then(readJson).then(function (res) {
          if (res.status === 401 || (res.json && res.body.username !== browserUser())) { return {loggedOut: true}; }
          if (res.status !== 200 || !res.json) { throw new Error("me " + res.status); }
          opts.onMe(res.body);
          return {username: res.body.username, csrf: res.body.csrf_token};
        });
    }
    function createIncident(it, csrf) {
      var body = {client_uuid: it.client_uuid, lon: it.lon, lat: it.lat, category: it.category,
                  description: it.description, address: it.address || null, observed_at: it.observed_at};
      if (it.urgent) { body.priority = "urgent"; }
      return withTimeout(U.create, {method: "POST", credentials: "same-origin", body: JSON.stringify(body),
                                    headers: {"Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrf}})
        .then(readJson, function () { return NO_ANSWER; });
    }
    function uploadPhoto(it, p, csrf, onProgress) {
      var url = U.create + "/" + it.incident_id + "/photos";
      return new Promise(function (resolve) {
        var xhr = new XMLHttpRequest();
        xhr.open("POST", url);
        xhr.setRequestHeader("X-CSRFToken", csrf);
        xhr.setRequestHeader("Accept", "application/json");
        xhr.timeout = 60000 + Math.round(p.blob.size / 2);   // ~2 KB/s at worst before it counts as stalled
        xhr.upload.onprogress = function (e) { if (e.lengthComputable) { onProgress(e.loaded / e.total); } };
        xhr.onload = function () {
          var isJson = /json/.test(xhr.getResponseHeader("Content-Type") || "") &&
                       (!xhr.responseURL || new URL(xhr.responseURL).pathname === url);
          var b = null;
          if (isJson) { try { b = JSON.parse(xhr.responseText); } catch (e) { b = null; } }
          resolve({status: xhr.status, body: b, json: !!b});
        };
        xhr.onerror = xhr.ontimeout = xhr.onabort = function () { resolve(NO_ANSWER); };
        var data = new FormData();
        data.append("client_uuid", p.client_uuid);
        data.append("photo", p.blob, p.name || "photo.jpg");
        xhr.send(data);
      });
    }

    // What an answer means: "ok" (the app has it), "refused" (the app said no, in JSON, about this
    // request), "login" (the session is gone) or "later" (no network, a portal, a proxy, a busy app).
    function verdict(res, expectUuid) {
      if ((res.status === 200 || res.status === 201) && res.json) {
        return res.body.client_uuid === expectUuid ? "ok" : "later";
      }
      if (res.status === 401 && res.json) { return "login"; }
      var code = res.json && res.body.error && res.body.error.code;
      if (!code || code === "csrf_invalid" || res.status === 408 || res.status === 429 || res.status >= 500) { return "later"; }
      return "refused";
    }

    // One report: "next" (go on with the others), or "stop" (try again later, all of them).
    function sendOne(it, auth) {
      var step = it.incident_id ? Promise.resolve(null) : createIncident(it, auth.csrf);
      return step.then(function (res) {
        if (!res) { return sendPhotos(it, auth); }
        var v = verdict(res, it.client_uuid);
        if (v === "ok") {
          it.incident_id = res.body.id; it.code = res.body.code; it.state = "sending";
          return put(it).then(opts.render).then(function () { return sendPhotos(it, auth); });
        }
        if (v === "refused") {
          it.state = "refused"; it.error = res.body.error;
          return put(it).then(function () { return "next"; });
        }
        if (v === "login") { opts.onLoginNeeded(true); }
        return "stop";
      });
    }
    function sendPhotos(it, auth) {
      var photos = it.photos || [];
      var chain = Promise.resolve("next");
      photos.forEach(function (p, i) {
        chain = chain.then(function (outcome) {
          if (outcome === "stop" || p.state !== "waiting") { return outcome; }
          return uploadPhoto(it, p, auth.csrf, function (fraction) {
            opts.onProgress(it, i + 1, photos.length, Math.round(fraction * 100));
          }).then(function (res) {
            var v = verdict(res, p.client_uuid);
            if (v === "ok") { p.state = "sent"; p.blob = null; }   // stored on the server: free the phone's space
            else if (v === "refused") { p.state = "refused"; p.error = res.body.error; }   // kept: retry or remove
            else { if (v === "login") { opts.onLoginNeeded(true); } return "stop"; }
            return put(it).then(function () { return "next"; });
          });
        });
      });
      return chain.then(function (outcome) {
        if (outcome === "stop") { return outcome; }
        it.state = "sent"; it.sent_at = Date.now();
        return put(it).then(function () { return "next"; });
      });
    }

    function sendAll() {
      if (!db || sending) { return Promise.resolve(); }
      var me = browserUser();
      sending = true;
      clearTimeout(retryTimer);
      var run = function () {
        return all().then(function (items) {
          var mine = items.filter(function (it) { return PENDING[it.state] && it.owner === me; })
            .sort(function (a, b) { return a.created - b.created; });
          if (!mine.length) { return "idle"; }
          return fetchMe().then(function (auth) {
            if (auth.loggedOut) { opts.onLoginNeeded(true); return "stop"; }
            opts.onLoginNeeded(false);
            var chain = Promise.resolve("next");
            mine.forEach(function (it) {
              chain = chain.then(function (outcome) {
                if (outcome === "stop") { return "stop"; }
                return get(it.client_uuid).then(function (fresh) {   // as stored now (another tab may have sent it)
                  return fresh && PENDING[fresh.state] ? sendOne(fresh, auth) : "next";
                });
              });
            });
            return chain;
          }, function () { return "stop"; });
        });
      };
      var locked = navigator.locks
        ? navigator.locks.request("gridsys-outbox", {ifAvailable: true}, function (lock) { return lock ? run() : "busy"; })
        : run();
      return Promise.resolve(locked).then(function (outcome) {
        sending = false;
        opts.onOffline(outcome === "stop");
        return opts.render().then(all).then(function (items) {
          if (items.some(function (it) { return PENDING[it.state] && it.owner === me; })) { retryLater(); }
          else { retryDelay = 10000; }
        });
      }, function () { sending = false; retryLater(); });
    }
    function retryLater() {
      clearTimeout(retryTimer);
      retryTimer = setTimeout(sendAll, retryDelay);
      retryDelay = Math.min(retryDelay * 2, 60000);
    }
    function sendSoon() { retryDelay = 10000; return sendAll(); }

    return {open: open, all: all, get: get, put: put, remove: remove, send: sendAll, sendSoon: sendSoon,
            fetchMe: fetchMe, available: function () { return !!db; }};
  }

  return {create: create, browserUser: browserUser, PENDING: PENDING};
})();
