// The report page, offline first: the location from the phone or a tap, a routing preview, the
// worker's categories first, photos shrunk on the phone, and an outbox in IndexedDB (idb) from
// which every report is sent through the JSON API, exactly once (client UUIDs), whenever it can be.
(function () {
  "use strict";
  var script = document.currentScript;
  var cfg = script.dataset;
  var T = JSON.parse(document.getElementById("report-text").textContent);
  var REFUSALS = JSON.parse(document.getElementById("report-errors").textContent);
  var form = document.getElementById("report-form");
  var box = document.getElementById("report-map");
  var map = window[box.dataset.map];
  var lon = document.getElementById("lon"), lat = document.getElementById("lat");
  var whereText = document.getElementById("where-text");
  var preview = document.getElementById("route-preview");
  var $ = function (id) { return document.getElementById(id); };
  var ME_KEY = "gridsys.me", DRAFT_KEY = "gridsys.draft";

  function fmt(text, values) {
    return text.replace(/\{(\w+)\}/g, function (m, k) { return values[k] === undefined ? m : values[k]; });
  }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined && text !== null) { e.textContent = text; }   // user text is always text
    return e;
  }
  function newUuid() {
    if (window.crypto && crypto.randomUUID) { return crypto.randomUUID(); }
    var b = crypto.getRandomValues(new Uint8Array(16));   // plain http on a LAN has no randomUUID
    b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;
    var h = Array.prototype.map.call(b, function (x) { return (x + 0x100).toString(16).slice(1); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }
  function bytes(n) {
    if (n < 1024 * 1024) { return Math.max(1, Math.round(n / 1024)) + " KB"; }
    if (n < 1024 * 1024 * 1024) { return (n / 1024 / 1024).toFixed(1) + " MB"; }
    return (n / 1024 / 1024 / 1024).toFixed(1) + " GB";
  }
  function localTime(ms) {
    var d = new Date(ms), p = function (x) { return (x < 10 ? "0" : "") + x; };
    return (d.getMonth() + 1) + "-" + p(d.getDate()) + " " + p(d.getHours()) + ":" + p(d.getMinutes());
  }

  // --- who is logged in (the shell is the same for everyone) ---------------------------------
  var me = null;
  try { me = JSON.parse(localStorage.getItem(ME_KEY) || "null"); } catch (e) { me = null; }

  function fetchMe() {
    return fetch(cfg.meUrl, {credentials: "same-origin", cache: "no-store", headers: {Accept: "application/json"}})
      .then(function (r) {
        if (r.status === 401) { return {loggedOut: true}; }
        if (!r.ok) { throw new Error("me " + r.status); }
        return r.json().then(function (body) {
          if (me && me.username !== body.username && window.caches) {
            caches.delete("gridsys-api");   // another person on a shared phone: not their grids
          }
          me = {username: body.username, display_name: body.display_name, duties: body.duties || [],
                frequent: body.frequent_categories || []};
          localStorage.setItem(ME_KEY, JSON.stringify(me));
          showLoginAgain(false);
          return {me: me, csrf: body.csrf_token || metaCsrf()};
        });
      });
  }
  function metaCsrf() {
    var m = document.querySelector("meta[name=csrf-token]");
    return m ? m.content : "";
  }
  function showLoginAgain(on) { $("login-again").hidden = !on; }

  // --- the map, the pin and the phone's position ------------------------------------------------
  var marker = null, pinByHand = false, gpsRequest = 0, gridsLayer = null;

  function place(latlng, how) {
    lat.value = latlng.lat.toFixed(7);
    lon.value = latlng.lng.toFixed(7);
    if (how === "hand") { pinByHand = true; gpsRequest += 1; }   // a pending GPS fix must not move it
    if (marker) { marker.setLatLng(latlng); }
    else {
      marker = L.marker(latlng, {draggable: true, autoPan: true}).addTo(map);
      marker.on("dragend", function () { place(marker.getLatLng(), "hand"); });
    }
    if (how === "gps") { map.setView(latlng, Math.max(map.getZoom(), 16)); }
    whereText.textContent = T.located.replace("{lat}", lat.value).replace("{lon}", lon.value);
    saveDraft();
    previewRouting();
  }
  function clearPin() {
    if (marker) { map.removeLayer(marker); marker = null; }
    lat.value = ""; lon.value = ""; pinByHand = false;
    preview.hidden = true;
  }

  map.on("click", function (e) { place(e.latlng, "hand"); });

  function locate(asked) {
    if (!navigator.geolocation) { whereText.textContent = T.noGps; return; }
    if (asked) { pinByHand = false; }
    var request = ++gpsRequest;
    if (asked) { whereText.textContent = T.locating; }
    navigator.geolocation.getCurrentPosition(
      function (p) {
        if (pinByHand || request !== gpsRequest) {   // the worker placed the pin meanwhile: it stays
          if (pinByHand) { whereText.textContent = T.gpsKeptPin; }
          return;
        }
        place(L.latLng(p.coords.latitude, p.coords.longitude), "gps");
      },
      function () { if (request === gpsRequest && !lat.value) { whereText.textContent = T.noGps; } },
      {enableHighAccuracy: true, timeout: 15000, maximumAge: 60000});
  }
  $("locate-me").addEventListener("click", function () { locate(true); });

  fetch(cfg.gridsUrl, {credentials: "same-origin"})
    .then(function (r) { return r.ok ? r.json() : null; })
    .then(function (data) {
      if (!data || !data.features || !data.features.length) { return; }
      gridsLayer = L.geoJSON(data, {
        style: {color: "#1d4ed8", weight: 2, fillOpacity: 0.05},
        onEachFeature: function (f, l) { l.bindTooltip(document.createTextNode(f.properties.name)); }  // text, never HTML
      }).addTo(map);
      gridsLayer.eachLayer(function (l) { l.on("click", function (e) { place(e.latlng, "hand"); }); });
      if (!lat.value) { map.fitBounds(gridsLayer.getBounds()); }
      else { previewRouting(); }
    })
    .catch(function () { /* offline and never cached: the map still takes a tap */ });

  // --- routing preview: where the report goes, before it is sent (writes nothing) --------------
  function inRing(x, y, ring) {
    var inside = false;
    for (var i = 0, j = ring.length - 1; i < ring.length; j = i++) {
      var xi = ring[i][0], yi = ring[i][1], xj = ring[j][0], yj = ring[j][1];
      if ((yi > y) !== (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi) { inside = !inside; }
    }
    return inside;
  }
  function localGrid(x, y) {
    var found = null;
    if (!gridsLayer) { return null; }
    gridsLayer.eachLayer(function (l) {
      var g = l.feature.geometry;
      if (found || !g || g.type !== "Polygon" || !inRing(x, y, g.coordinates[0])) { return; }
      for (var k = 1; k < g.coordinates.length; k++) { if (inRing(x, y, g.coordinates[k])) { return; } }
      found = l.feature.properties;
    });
    return found;
  }
  function checkedCategory() {
    var c = form.querySelector("input[name=category]:checked");
    return c ? c.value : "";
  }
  var previewTimer = null, previewSeq = 0;
  function previewRouting() {
    clearTimeout(previewTimer);
    previewTimer = setTimeout(runPreview, 250);
  }
  function showPreview(lines) {
    preview.textContent = "";
    lines.forEach(function (line) { if (line) { preview.appendChild(el("span", null, line)); } });
    preview.hidden = !preview.childNodes.length;
  }
  function offlinePreview() {
    var g = localGrid(+lon.value, +lat.value);
    showPreview([g ? fmt(T.inGrid, {grid: g.name, area: g.area_name || g.area || ""}) : T.outsideGrids, T.offlineGrid]);
  }
  function runPreview() {
    if (!lat.value || !lon.value) { return; }
    var seq = ++previewSeq;
    var q = "?lon=" + encodeURIComponent(lon.value) + "&lat=" + encodeURIComponent(lat.value);
    if (checkedCategory()) { q += "&category=" + encodeURIComponent(checkedCategory()); }
    fetch(cfg.previewUrl + q, {credentials: "same-origin", headers: {Accept: "application/json"}})
      .then(function (r) { return r.json().then(function (b) { return {ok: r.ok, body: b}; }); })
      .then(function (res) {
        if (seq !== previewSeq) { return; }
        if (!res.ok) {
          var code = res.body && res.body.error && res.body.error.code;
          showPreview([REFUSALS[code] || (res.body.error && res.body.error.message) || ""]);
          return;
        }
        var b = res.body, lines = [];
        if (b.grid) { lines.push(fmt(T.inGrid, {grid: b.grid.name, area: b.area ? b.area.name : ""})); }
        else if (b.area) { lines.push(fmt(T.inArea, {area: b.area.name})); }
        if (b.assignee) { lines.push(fmt(T.goesTo, {who: b.assignee.display_name || b.assignee.username})); }
        if (b.reason) { lines.push(b.reason); }
        showPreview(lines);
      })
      .catch(function () { if (seq === previewSeq) { offlinePreview(); } });
  }
  form.addEventListener("change", function (e) {
    if (e.target.name === "category") { previewRouting(); }
  });

  // --- categories: the worker's own first, and a search box ------------------------------------
  function arrangeCategories() {
    if (!me) { return; }
    var fav = $("favourites");
    if (fav.dataset.arranged) { return; }
    var duties = {};
    (me.duties || []).forEach(function (d) { if (d.duty !== "general") { duties[d.duty] = true; } });
    var chosen = [];
    (me.frequent || []).forEach(function (code) { if (chosen.indexOf(code) < 0) { chosen.push(code); } });
    form.querySelectorAll("label.cat").forEach(function (label) {
      var code = label.querySelector("input").value;
      if (duties[label.dataset.duty] && chosen.indexOf(code) < 0) { chosen.push(code); }
    });
    chosen = chosen.slice(0, 8);
    chosen.forEach(function (code) {
      var input = form.querySelector("label.cat input[value='" + code + "']");
      if (input) { fav.appendChild(input.closest("label")); }
    });
    form.querySelectorAll("details.all-categories fieldset").forEach(function (fs) {
      fs.hidden = !fs.querySelector("label.cat");
    });
    fav.dataset.arranged = "1";
    if (fav.querySelector("label.cat")) {
      fav.hidden = false;
      if (!form.querySelector("details.all-categories input:checked")) { $("all-categories").open = false; }
    }
  }
  $("cat-search").addEventListener("input", function () {
    var words = this.value.trim().toLowerCase().split(/\s+/).filter(Boolean);
    var shown = 0;
    form.querySelectorAll("label.cat").forEach(function (label) {
      var hay = (label.dataset.search + " " + label.textContent).toLowerCase();
      var hit = words.every(function (w) { return hay.indexOf(w) >= 0; });
      label.hidden = !hit;
      if (hit) { shown += 1; }
    });
    form.querySelectorAll("fieldset.categories").forEach(function (fs) {
      fs.hidden = !fs.querySelector("label.cat:not([hidden])");
    });
    if (words.length) { $("all-categories").open = true; }
    $("no-category-match").hidden = shown > 0;
  });

  // --- photos: shrunk on the phone, shown as thumbnails that can be removed ---------------------
  var MAX_EDGE = 1600, pendingPhotos = [];
  var photoInput = $("photo-input"), thumbs = $("photo-thumbs");

  function decode(file) {
    if (window.createImageBitmap) { return createImageBitmap(file, {imageOrientation: "from-image"}); }
    return new Promise(function (resolve, reject) {
      var img = new Image(), url = URL.createObjectURL(file);
      img.onload = function () { URL.revokeObjectURL(url); resolve(img); };
      img.onerror = function () { URL.revokeObjectURL(url); reject(new Error("undecodable")); };
      img.src = url;
    });
  }
  function shrink(file) {
    return decode(file).then(function (image) {
      var w = image.width, h = image.height, scale = Math.min(1, MAX_EDGE / Math.max(w, h));
      var canvas = document.createElement("canvas");
      canvas.width = Math.round(w * scale); canvas.height = Math.round(h * scale);
      canvas.getContext("2d").drawImage(image, 0, 0, canvas.width, canvas.height);
      if (image.close) { image.close(); }
      return new Promise(function (resolve) { canvas.toBlob(resolve, "image/jpeg", 0.82); })
        .then(function (blob) {
          if (!blob) { throw new Error("encode"); }
          // Re-encoding drops EXIF (GPS included); keep the original only when it is smaller still.
          return (blob.size < file.size || file.type !== "image/jpeg") ? blob : file;
        });
    }).catch(function () { return file; });   // e.g. HEIC where the browser cannot decode it: the server does
  }
  function renderThumbs() {
    thumbs.textContent = "";
    pendingPhotos.forEach(function (p, i) {
      var li = el("li", "thumb");
      var img = el("img");
      img.alt = "";
      img.src = p.url || (p.url = URL.createObjectURL(p.blob));
      var size = el("span", "size", bytes(p.blob.size));
      var remove = el("button", "remove", "×");
      remove.type = "button";
      remove.setAttribute("aria-label", T.removePhoto);
      remove.addEventListener("click", function () {
        if (p.url) { URL.revokeObjectURL(p.url); }
        pendingPhotos.splice(i, 1);
        renderThumbs();
      });
      li.appendChild(img); li.appendChild(size); li.appendChild(remove);
      thumbs.appendChild(li);
    });
  }
  photoInput.addEventListener("change", function () {
    if (!queue) { return; }   // no IndexedDB: the plain form posts the files itself
    var files = Array.prototype.slice.call(photoInput.files || []);
    photoInput.value = "";
    Promise.all(files.map(function (f) {
      return shrink(f).then(function (blob) {
        return {client_uuid: newUuid(), blob: blob, name: (f.name || "photo").replace(/\.\w+$/, "") +
                (blob.type === "image/jpeg" ? ".jpg" : (f.name.match(/\.\w+$/) || [""])[0]), state: "waiting"};
      });
    })).then(function (made) {
      pendingPhotos = pendingPhotos.concat(made);
      renderThumbs();
    });
  });

  // --- the outbox: IndexedDB, one record per report keyed by its client UUID --------------------
  var queue = null;   // the idb database, or null where the browser has none (the form then posts)
  function openQueue() {
    if (!window.indexedDB || !window.idb) { return Promise.resolve(null); }
    return idb.openDB("gridsys-field", 1, {
      upgrade: function (db) { db.createObjectStore("reports", {keyPath: "client_uuid"}); }
    }).catch(function () { return null; });
  }
  function allReports() { return queue.getAll("reports"); }
  function saveReport(item) { return queue.put("reports", item); }

  function mine(item) { return me && item.owner === me.username; }

  function renderOutbox() {
    if (!queue) { return Promise.resolve(); }
    return allReports().then(function (items) {
      var list = $("outbox-list"), waiting = 0, others = 0;
      list.textContent = "";
      items.sort(function (a, b) { return b.created - a.created; });
      var shown = items.filter(function (it) {
        if (!me || !mine(it)) { if (it.state !== "sent") { others += 1; } return false; }
        return true;
      });
      shown.sort(function (a, b) { return (a.state === "sent") - (b.state === "sent") || b.created - a.created; });
      shown.slice(0, 20).forEach(function (it) {
        if (it.state !== "sent") { waiting += 1; }
        list.appendChild(outboxItem(it));
      });
      $("outbox-count").textContent = waiting;
      $("send-now").hidden = !waiting;
      $("outbox").hidden = !shown.length && !others;
      $("others-waiting").hidden = !others;
      $("others-waiting").textContent = fmt(T.othersWaiting, {count: others});
      return storageUse(items);
    });
  }
  function outboxItem(it) {
    var li = el("li", "outbox-item " + it.state);
    li.dataset.uuid = it.client_uuid;
    var head = el("div", "what");
    head.appendChild(el("time", null, localTime(it.created)));
    head.appendChild(el("strong", null, it.category_name || it.category));
    head.appendChild(el("span", "place", it.place || (it.lat + ", " + it.lon)));
    li.appendChild(head);
    li.appendChild(el("p", "desc", it.description));
    var state = el("p", "state");
    var photos = (it.photos || []).length;
    if (it.state === "sent") {
      var link = el("a", "code", it.code);
      link.href = cfg.incidentUrl.replace(/0$/, String(it.incident_id));
      state.appendChild(document.createTextNode(fmt(T.sent, {code: ""})));
      state.appendChild(link);
      if (photos) { state.appendChild(document.createTextNode(" · " + fmt(T.sentPhotos, {count: photos}))); }
    } else if (it.state === "refused") {
      state.textContent = fmt(T.refused, {reason: refusalText(it.error)});
    } else if (it.progress) {
      state.textContent = it.progress;
    } else {
      state.textContent = it.code ? fmt(T.sent, {code: it.code}) + " · " + T.sending : T.queued;
    }
    li.appendChild(state);
    (it.photos || []).forEach(function (p) {
      if (p.state === "refused") { li.appendChild(el("p", "photo-refused", fmt(T.photoRefused, {reason: refusalText(p.error)}))); }
    });
    if (it.state === "refused") {
      var actions = el("div", "item-actions");
      var fix = el("button", "small fix", T.fix);
      fix.type = "button";
      fix.addEventListener("click", function () { editRefused(it); });
      var del = el("button", "small secondary delete", T.remove);
      del.type = "button";
      del.addEventListener("click", function () {
        if (window.confirm(T.confirmDelete)) { queue.delete("reports", it.client_uuid).then(renderOutbox); }
      });
      actions.appendChild(fix); actions.appendChild(del);
      li.appendChild(actions);
    }
    return li;
  }
  function refusalText(error) {
    if (!error) { return ""; }
    return REFUSALS[error.code] || error.message || error.code;
  }
  function storageUse(items) {
    var used = 0;
    items.forEach(function (it) {
      (it.photos || []).forEach(function (p) { if (p.blob) { used += p.blob.size; } });
    });
    var line = $("storage-use");
    if (!navigator.storage || !navigator.storage.estimate) { line.textContent = used ? bytes(used) : ""; return; }
    return navigator.storage.estimate().then(function (est) {
      var free = Math.max(0, (est.quota || 0) - (est.usage || 0));
      line.textContent = used ? fmt(T.storage, {used: bytes(used), free: bytes(free)}) : "";
      var low = est.quota && (est.usage / est.quota > 0.8 || free < 50 * 1024 * 1024);
      line.classList.toggle("warning", !!low);
      if (low) { line.textContent += " " + T.storageLow; }
    });
  }

  // --- sending: the report first (small), then each photo as its own idempotent upload ---------
  var sending = false, retryTimer = null, retryDelay = 10000;
  var TRANSIENT = {0: 1, 408: 1, 429: 1, 500: 1, 502: 1, 503: 1, 504: 1};

  function scheduleRetry() {
    clearTimeout(retryTimer);
    retryTimer = setTimeout(sendAll, retryDelay);
    retryDelay = Math.min(retryDelay * 2, 60000);
  }
  function json(r) {
    return r.text().then(function (t) { var b = null; try { b = JSON.parse(t); } catch (e) { b = null; } return {status: r.status, body: b}; });
  }
  function errorOf(res) {
    return (res.body && res.body.error) || {code: "http_" + res.status, message: ""};
  }

  function createIncident(it, csrf) {
    var body = {client_uuid: it.client_uuid, lon: it.lon, lat: it.lat, category: it.category,
                description: it.description, address: it.address || null, observed_at: it.observed_at};
    if (it.urgent) { body.priority = "urgent"; }
    return fetch(cfg.createUrl, {method: "POST", credentials: "same-origin", body: JSON.stringify(body),
                                 headers: {"Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrf}})
      .then(json, function () { return {status: 0, body: null}; });
  }
  function uploadPhoto(it, p, csrf, onProgress) {
    return new Promise(function (resolve) {
      var xhr = new XMLHttpRequest();
      xhr.open("POST", cfg.createUrl + "/" + it.incident_id + "/photos");
      xhr.setRequestHeader("X-CSRFToken", csrf);
      xhr.setRequestHeader("Accept", "application/json");
      xhr.timeout = 60000 + Math.round(p.blob.size / 2);   // ~2 KB/s at worst before it counts as stalled
      xhr.upload.onprogress = function (e) { if (e.lengthComputable) { onProgress(e.loaded / e.total); } };
      xhr.onload = function () {
        var b = null; try { b = JSON.parse(xhr.responseText); } catch (e) { b = null; }
        resolve({status: xhr.status, body: b});
      };
      xhr.onerror = xhr.ontimeout = xhr.onabort = function () { resolve({status: 0, body: null}); };
      var data = new FormData();
      data.append("client_uuid", p.client_uuid);
      data.append("photo", p.blob, p.name || "photo.jpg");
      xhr.send(data);
    });
  }

  // One report: returns "done", "stop" (no network or no login: try later) or "next" (go on).
  function sendOne(it, auth) {
    var step = it.incident_id ? Promise.resolve(null) : createIncident(it, auth.csrf);
    return step.then(function (res) {
      if (res) {
        if (res.status === 200 || res.status === 201) {
          it.incident_id = res.body.id; it.code = res.body.code; it.state = "sending";
          return saveReport(it).then(function () { return renderOutbox(); }).then(function () { return photosOf(it, auth); });
        }
        return refusedOrStop(res, it);
      }
      return photosOf(it, auth);
    });
  }
  function refusedOrStop(res, it, photo) {
    var error = errorOf(res);
    if (res.status === 401) { showLoginAgain(true); return "stop"; }
    if (error.code === "csrf_invalid") { return "stop"; }   // a fresh token on the next pass
    if (TRANSIENT[res.status]) { return res.status ? "next" : "stop"; }
    if (photo) { photo.state = "refused"; photo.error = error; photo.blob = null; return saveReport(it).then(function () { return "next"; }); }
    it.state = "refused"; it.error = error;
    return saveReport(it).then(function () { return "next"; });
  }
  function photosOf(it, auth) {
    var todo = (it.photos || []).filter(function (p) { return p.state === "waiting"; });
    var total = (it.photos || []).length;
    var chain = Promise.resolve("next");
    todo.forEach(function (p) {
      chain = chain.then(function (outcome) {
        if (outcome === "stop") { return "stop"; }
        var n = it.photos.indexOf(p) + 1;
        var shown = -1;
        return uploadPhoto(it, p, auth.csrf, function (fraction) {
          var percent = Math.round(fraction * 100);
          if (percent === shown) { return; }
          shown = percent;
          var state = document.querySelector("li.outbox-item[data-uuid='" + it.client_uuid + "'] .state");
          if (state) { state.textContent = fmt(T.sent, {code: it.code}) + " · " + fmt(T.photoProgress, {n: n, total: total, percent: percent}); }
        }).then(function (res) {
          if (res.status === 200 || res.status === 201) {
            p.state = "sent"; p.blob = null;   // stored on the server: free the phone's space
            return saveReport(it).then(function () { return "next"; });
          }
          return refusedOrStop(res, it, p);
        });
      });
    });
    return chain.then(function (outcome) {
      if (outcome === "stop" || it.state === "refused") { return outcome; }
      if ((it.photos || []).some(function (p) { return p.state === "waiting"; })) { return "next"; }
      it.state = "sent"; it.sent_at = Date.now();
      return saveReport(it).then(function () { return "done"; });
    });
  }

  function sendAll() {
    if (!queue || sending) { return Promise.resolve(); }
    sending = true;
    clearTimeout(retryTimer);
    var run = function () {
      return allReports().then(function (items) {
        var pending = items.filter(function (it) { return it.state === "queued" || it.state === "sending"; });
        if (!pending.length) { return "idle"; }
        return fetchMe().then(function (auth) {
          if (auth.loggedOut) { showLoginAgain(true); return "stop"; }
          arrangeCategories();
          pending = pending.filter(mine).sort(function (a, b) { return a.created - b.created; });
          var chain = Promise.resolve("next");
          pending.forEach(function (it) {
            chain = chain.then(function (outcome) { return outcome === "stop" ? "stop" : sendOne(it, auth); });
          });
          return chain;
        }, function () { return "stop"; });
      });
    };
    var locked = navigator.locks ? navigator.locks.request("gridsys-outbox", {ifAvailable: true}, function (lock) {
      return lock ? run() : "busy";   // another tab of the app is sending
    }) : run();
    return Promise.resolve(locked).then(function (outcome) {
      sending = false;
      $("offline-now").hidden = outcome !== "stop" || !$("login-again").hidden;
      return renderOutbox().then(function () { return allReports(); }).then(function (items) {
        var left = items.some(function (it) { return mine(it) && (it.state === "queued" || it.state === "sending"); });
        if (left) { scheduleRetry(); } else { retryDelay = 10000; }
      });
    }, function () { sending = false; scheduleRetry(); });
  }

  // --- the form: every report goes into the outbox first, then out ------------------------------
  function fail(text, focus) {
    var p = $("form-error");
    p.textContent = text;
    p.hidden = false;
    if (focus) { focus.scrollIntoView({behavior: "smooth", block: "center"}); }
  }
  function categoryName(code) {
    var input = form.querySelector("input[name=category][value='" + code + "']");
    return input ? input.closest("label").textContent.trim() : code;
  }
  function placeText() {
    var g = localGrid(+lon.value, +lat.value);
    return g ? g.name : (+lat.value).toFixed(5) + ", " + (+lon.value).toFixed(5);
  }
  form.addEventListener("submit", function (e) {
    if (!lat.value || !lon.value) {
      e.preventDefault();
      whereText.textContent = T.noGps;
      fail(T.needLocation, box);
      return;
    }
    if (!queue || !me) { $("send").disabled = true; return; }   // the plain form: the client UUID makes a resend harmless
    e.preventDefault();
    var category = checkedCategory(), description = form.description.value.trim();
    if (!category) { fail(T.needCategory, $("all-categories")); return; }
    if (!description) { fail(T.needDescription, form.description); return; }
    $("form-error").hidden = true;
    $("send").disabled = true;
    var item = {v: 1, client_uuid: form.client_uuid.value, owner: me.username, created: Date.now(),
                observed_at: form.observed_at.value || new Date().toISOString(),
                lon: lon.value, lat: lat.value, place: placeText(), category: category,
                category_name: categoryName(category), description: description,
                address: form.address.value.trim(), urgent: form.urgent.checked, state: "queued",
                photos: pendingPhotos.map(function (p) { return {client_uuid: p.client_uuid, blob: p.blob, name: p.name, state: "waiting"}; })};
    saveReport(item).then(function () {
      resetForm();
      var note = $("form-error");
      note.className = "flash ok";
      note.textContent = navigator.onLine ? T.savedSending : T.savedOffline;
      note.hidden = false;
      return renderOutbox();
    }).then(function () {
      $("outbox").scrollIntoView({behavior: "smooth", block: "start"});
      retryDelay = 10000;
      return sendAll();
    }).catch(function (err) {
      fail(String(err && err.message || err));
    }).then(function () { $("send").disabled = false; });
  });
  function resetForm() {
    pendingPhotos.forEach(function (p) { if (p.url) { URL.revokeObjectURL(p.url); } });
    pendingPhotos = [];
    renderThumbs();
    form.reset();
    form.client_uuid.value = newUuid();
    form.observed_at.value = "";
    clearPin();
    localStorage.removeItem(DRAFT_KEY);
    whereText.textContent = T.noGps;
    if (window.isSecureContext) { locate(false); }
  }
  function editRefused(it) {
    it.state = "editing";   // stays on the phone until it is sent again under the same client UUID
    saveReport(it).then(renderOutbox);
    form.client_uuid.value = it.client_uuid;
    form.observed_at.value = it.observed_at;
    form.description.value = it.description;
    form.address.value = it.address || "";
    form.urgent.checked = !!it.urgent;
    var input = form.querySelector("input[name=category][value='" + it.category + "']");
    form.querySelectorAll("input[name=category]").forEach(function (i) { i.checked = false; });
    if (input) { input.checked = true; if (!input.closest("#favourites")) { $("all-categories").open = true; } }
    place(L.latLng(+it.lat, +it.lon), "hand");
    map.setView([+it.lat, +it.lon], Math.max(map.getZoom(), 16));
    pendingPhotos = (it.photos || []).filter(function (p) { return p.blob && p.state !== "sent"; })
      .map(function (p) { return {client_uuid: p.client_uuid, blob: p.blob, name: p.name, state: "waiting"}; });
    renderThumbs();
    fail(fmt(T.refused, {reason: refusalText(it.error)}), box);
  }

  // A draft of the text survives a reload or a dead battery tab (not the photos: they are big).
  function saveDraft() {
    try {
      localStorage.setItem(DRAFT_KEY, JSON.stringify({description: form.description.value, address: form.address.value,
                                                      category: checkedCategory(), client_uuid: form.client_uuid.value}));
    } catch (e) { /* storage full: the outbox matters more */ }
  }
  form.addEventListener("input", saveDraft);
  form.addEventListener("change", saveDraft);
  function restoreDraft() {
    var d = null;
    try { d = JSON.parse(localStorage.getItem(DRAFT_KEY) || "null"); } catch (e) { d = null; }
    if (!d || form.description.value) { return; }
    form.description.value = d.description || "";
    form.address.value = d.address || "";
    var input = d.category && form.querySelector("input[name=category][value='" + d.category + "']");
    if (input) { input.checked = true; }
    if (d.client_uuid && form.client_uuid.value === "") { form.client_uuid.value = d.client_uuid; }
  }

  // --- start ------------------------------------------------------------------------------------
  if (!form.client_uuid.value) { form.client_uuid.value = newUuid(); }   // the shell has none of its own
  restoreDraft();
  if (lat.value && lon.value) { place(L.latLng(+lat.value, +lon.value), "hand"); map.setView([+lat.value, +lon.value], 16); }
  else if (window.isSecureContext) { locate(false); }
  else { whereText.textContent = T.noGps; }

  if (navigator.serviceWorker && window.isSecureContext) {
    navigator.serviceWorker.register(cfg.swUrl, {scope: "/"}).catch(function () { $("no-offline").hidden = false; });
  } else {
    $("no-offline").hidden = false;   // e.g. some in-app browsers: the page works online only
  }
  if (navigator.storage && navigator.storage.persist) { navigator.storage.persist().catch(function () {}); }

  openQueue().then(function (db) {
    queue = db;
    if (!queue) { $("no-offline").hidden = false; return; }
    return allReports().then(function (items) {   // a correction left half-way is a refusal again
      return Promise.all(items.filter(function (it) { return it.state === "editing"; })
        .map(function (it) { it.state = "refused"; return saveReport(it); }));
    });
  }).then(function () {
    return fetchMe().then(function (auth) { if (auth.loggedOut) { showLoginAgain(true); } }, function () {
      $("offline-now").hidden = false;   // navigator.onLine says little: the request failed
    });
  }).then(function () {
    arrangeCategories();
    return renderOutbox();
  }).then(sendAll);

  window.addEventListener("online", function () { $("offline-now").hidden = true; retryDelay = 10000; sendAll(); });
  window.addEventListener("offline", function () { $("offline-now").hidden = false; });
  document.addEventListener("visibilitychange", function () { if (!document.hidden) { sendAll(); } });
  $("send-now").addEventListener("click", function () { retryDelay = 10000; sendAll(); });
  window.gridsysOutbox = {send: sendAll, reports: function () { return queue ? allReports() : Promise.resolve([]); }};
})();
