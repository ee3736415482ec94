// The report page, offline first: the location from the phone or a tap, a routing preview, the
// worker's categories first, photos shrunk on the phone, and the outbox (outbox.js) from which
// every report is sent, exactly once, whenever the network allows.
(function () {
  "use strict";
  var cfg = document.currentScript.dataset;
  var T = JSON.parse(document.getElementById("report-text").textContent);
  var REFUSALS = JSON.parse(document.getElementById("report-errors").textContent);
  var $ = function (id) { return document.getElementById(id); };
  var form = $("report-form"), box = $("report-map"), map = window[box.dataset.map];
  var lon = $("lon"), lat = $("lat"), whereText = $("where-text"), preview = $("route-preview");
  var ME_KEY = "gridsys.me", DRAFT_PREFIX = "gridsys.draft.";
  var currentUser = GridsysOutbox.browserUser;

  function fmt(text, values) {
    return text.replace(/\{(\w+)\}/g, function (m, k) { return values[k] === undefined ? m : values[k]; });
  }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined && text !== null) { e.textContent = text; }   // user text is always text
    return e;
  }
  function button(label, cls, onClick) {
    var b = el("button", cls, label);
    b.type = "button";
    b.addEventListener("click", onClick);
    return b;
  }
  var newUuid = GridsysPhone.newUuid, shrink = GridsysPhone.shrink;   // phone.js
  function bytes(n) {
    if (n < 1024 * 1024) { return Math.max(1, Math.round(n / 1024)) + " KB"; }
    if (n < 1024 * 1024 * 1024) { return (n / 1024 / 1024).toFixed(1) + " MB"; }
    return (n / 1024 / 1024 / 1024).toFixed(1) + " GB";
  }
  function localTime(ms) {
    var d = new Date(ms), p = function (x) { return (x < 10 ? "0" : "") + x; };
    return (d.getMonth() + 1) + "-" + p(d.getDate()) + " " + p(d.getHours()) + ":" + p(d.getMinutes());
  }
  function remember(key, value) {
    try { if (value === null) { localStorage.removeItem(key); } else { localStorage.setItem(key, JSON.stringify(value)); } }
    catch (e) { /* storage full or off: the outbox matters more */ }
  }
  function recall(key) {
    try { return JSON.parse(localStorage.getItem(key) || "null"); } catch (e) { return null; }
  }
  function refusalText(error) {
    if (!error) { return ""; }
    return REFUSALS[error.code] || fmt(REFUSALS.other, {code: error.code});
  }

  // What /api/v1/me last said of the person logged in on this browser (their categories).
  var me = recall(ME_KEY);
  if (me && me.username !== currentUser()) { me = null; remember(ME_KEY, null); }
  function onMe(body) {
    if (me && me.username !== body.username && window.caches) { caches.delete("gridsys-api"); }   // not their grids
    me = {username: body.username, favourites: body.favourite_categories || []};
    remember(ME_KEY, me);
    arrangeCategories();
    showWork(body);
  }
  // The person's waiting work and unread messages, one tap each (only what is not empty).
  function showWork(body) {
    var strip = $("work-strip");
    if (!strip) { return; }
    var labels = JSON.parse(strip.getAttribute("data-labels") || "{}");
    strip.textContent = "";
    function chip(href, label, n, name) {
      var a = document.createElement("a");
      a.className = "chip" + (name ? "" : " news");
      a.href = href;
      if (name) { a.setAttribute("data-queue", name); }
      a.textContent = label + " ";
      var count = document.createElement("span");
      count.className = "count";
      count.textContent = n >= 100 ? "99+" : String(n);   // the server counts up to 100
      a.appendChild(count);
      strip.appendChild(a);
    }
    if (body.unread) { chip(strip.getAttribute("data-inbox-url"), labels.unread, body.unread, null); }
    Object.keys(body.queues || {}).forEach(function (name) {
      var n = body.queues[name];
      if (n > 0 && labels[name]) {
        chip(strip.getAttribute("data-queue-url") + "?queue=" + encodeURIComponent(name), labels[name], n, name);
      }
    });
    strip.hidden = !strip.childNodes.length;
  }
  function showLoginAgain(on) {
    $("login-again").hidden = !on;
    if (on) { me = null; remember(ME_KEY, null); }
  }
  function note(text, kind) {
    var p = $("form-error");
    p.className = "flash " + (kind || "error");
    p.textContent = text;
    p.hidden = !text;
  }
  function fail(text, field) {
    note(text, "error");
    if (field) { field.scrollIntoView({behavior: "smooth", block: "center"}); if (field.focus) { field.focus({preventScroll: true}); } }
  }

  // --- the map, the pin and the phone's position ------------------------------------------------
  var marker = null, pinByHand = false, gpsRequest = 0, gridsLayer = null;

  function located() { return T.located.replace("{lat}", lat.value).replace("{lon}", lon.value); }
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
    whereText.textContent = located();
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
    if (asked) { pinByHand = false; whereText.textContent = T.locating; }
    var request = ++gpsRequest;
    navigator.geolocation.getCurrentPosition(
      function (p) {
        if (pinByHand || request !== gpsRequest) {   // the worker placed the pin meanwhile: it stays
          if (pinByHand) { whereText.textContent = T.gpsKeptPin; }
          return;
        }
        place(L.latLng(p.coords.latitude, p.coords.longitude), "gps");
      },
      function () {
        if (request === gpsRequest) { whereText.textContent = lat.value ? located() + " · " + T.noGps : T.noGps; }
      },
      {enableHighAccuracy: true, timeout: 15000, maximumAge: 60000});
  }
  $("locate-me").addEventListener("click", function () { locate(true); });

  function loadGrids(draw) {
    return fetch(cfg.gridsUrl, {credentials: "same-origin"})
      .then(function (r) { return r.ok && /json/.test(r.headers.get("Content-Type") || "") ? r.json() : null; })
      .then(function (data) {
        if (!draw || !data || !data.features || !data.features.length) { return; }
        gridsLayer = L.geoJSON(data, {
          style: {color: "#1d4ed8", weight: 2, fillOpacity: 0.05},
          onEachFeature: function (f, l) { l.bindTooltip(document.createTextNode(gridName(f.properties))); }  // text, never HTML
        }).addTo(map);
        gridsLayer.eachLayer(function (l) { l.on("click", function (e) { place(e.latlng, "hand"); }); });
        if (!lat.value) { map.fitBounds(gridsLayer.getBounds()); }
        else { previewRouting(); }
      })
      .catch(function () { /* offline and never kept: the map still takes a tap */ });
  }
  loadGrids(true);

  // --- routing preview: where the report goes, before it is sent (writes nothing) --------------
  function inRing(x, y, ring) {
    var inside = false;
    for (var i = 0, j = ring.length - 1; i < ring.length; j = i++) {
      var xi = ring[i][0], yi = ring[i][1], xj = ring[j][0], yj = ring[j][1];
      if ((yi > y) !== (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi) { inside = !inside; }
    }
    return inside;
  }
  function inPolygon(x, y, rings) {
    if (!inRing(x, y, rings[0])) { return false; }
    for (var k = 1; k < rings.length; k++) { if (inRing(x, y, rings[k])) { return false; } }
    return true;
  }
  // A grid's name in the page's language (the English name where one is stored).
  function gridName(p) {
    return document.documentElement.lang === "en" && p.name_en ? p.name_en : p.name;
  }
  function localGrid(x, y) {
    var found = null;
    if (!gridsLayer) { return null; }
    gridsLayer.eachLayer(function (l) {
      var g = l.feature.geometry;
      if (found || !g) { return; }
      var polygons = g.type === "Polygon" ? [g.coordinates] : g.type === "MultiPolygon" ? g.coordinates : [];
      if (polygons.some(function (rings) { return inPolygon(x, y, rings); })) { found = l.feature.properties; }
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
    showPreview([g ? fmt(T.inGridOnly, {grid: gridName(g)}) : T.outsideGrids, T.offlineGrid]);
  }
  function runPreview() {
    if (!lat.value || !lon.value) { return; }
    var seq = ++previewSeq;
    var q = "?lon=" + encodeURIComponent(lon.value) + "&lat=" + encodeURIComponent(lat.value);
    if (checkedCategory()) { q += "&category=" + encodeURIComponent(checkedCategory()); }
    fetch(cfg.previewUrl + q, {credentials: "same-origin", headers: {Accept: "application/json"}})
      .then(function (r) {
        if (!/json/.test(r.headers.get("Content-Type") || "")) { throw new Error("not the app"); }
        return r.json().then(function (b) { return {ok: r.ok, status: r.status, body: b}; });
      })
      .then(function (res) {
        if (seq !== previewSeq) { return; }
        if (res.status === 401) { offlinePreview(); return; }
        if (!res.ok) { showPreview([refusalText(res.body && res.body.error)]); return; }
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
  // The personal page comes with them in place; the shell (the same for everyone) arranges them
  // from what /api/v1/me last said.
  function arrangeCategories() {
    var fav = $("favourites");
    if (!me || fav.dataset.arranged) { return; }
    (me.favourites || []).forEach(function (code) {
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

  // --- photos: shrunk on the phone one at a time, shown as thumbnails that can be removed ------
  var pendingPhotos = [], shrinking = 0;
  var photoInput = $("photo-input"), thumbs = $("photo-thumbs"), sendButton = $("send");

  function dropPhoto(p) {
    if (p.url) { URL.revokeObjectURL(p.url); p.url = null; }
  }
  function renderThumbs() {
    thumbs.textContent = "";
    pendingPhotos.forEach(function (p, i) {
      var li = el("li", "thumb"), img = el("img");
      img.alt = "";
      img.src = p.url || (p.url = URL.createObjectURL(p.blob));
      li.appendChild(img);
      li.appendChild(el("span", "size", bytes(p.blob.size)));
      var remove = button("×", "remove", function () {
        dropPhoto(p);
        pendingPhotos.splice(i, 1);
        renderThumbs();
        photoInput.focus();
      });
      remove.setAttribute("aria-label", fmt(T.removePhoto, {n: i + 1}));
      li.appendChild(remove);
      thumbs.appendChild(li);
    });
  }
  function busyShrinking(delta) {
    shrinking += delta;
    sendButton.disabled = shrinking > 0;
    sendButton.textContent = shrinking > 0 ? T.preparingPhotos : T.send;
  }
  photoInput.addEventListener("change", function () {
    if (!outbox.available()) { return; }   // no IndexedDB: the plain form posts the files itself
    var files = Array.prototype.slice.call(photoInput.files || []);
    var forReport = form.client_uuid.value;   // a photo still shrinking when the report goes must not join the next one
    photoInput.value = "";
    busyShrinking(files.length);
    files.reduce(function (chain, f) {   // one at a time: a cheap phone cannot hold several decoded photos
      return chain.then(function () { return shrink(f); }).then(function (blob) {
        busyShrinking(-1);
        if (form.client_uuid.value !== forReport) { return; }
        var ext = blob.type === "image/jpeg" ? ".jpg" : ((f.name || "").match(/\.\w+$/) || [""])[0];
        pendingPhotos.push({client_uuid: newUuid(), blob: blob, name: (f.name || "photo").replace(/\.\w+$/, "") + ext});
        renderThumbs();
      });
    }, Promise.resolve());
  });

  // --- the outbox on screen ---------------------------------------------------------------------
  var outbox = GridsysOutbox.create({
    urls: {me: cfg.meUrl, create: cfg.createUrl},
    onMe: onMe, onLoginNeeded: showLoginAgain, render: renderOutbox,
    onOffline: function (off) { $("offline-now").hidden = !off || !$("login-again").hidden; },
    onProgress: function (it, n, total, percent) {
      var state = document.querySelector("li.outbox-item[data-uuid='" + it.client_uuid + "'] .state");
      if (state) { state.textContent = fmt(T.sent, {code: it.code}) + " · " + fmt(T.photoProgress, {n: n, total: total, percent: percent}); }
    }
  });

  function renderOutbox() {
    if (!outbox.available()) { return Promise.resolve(); }
    return outbox.all().then(function (items) {
      var user = currentUser(), list = $("outbox-list"), waiting = 0, others = 0;
      var shown = items.filter(function (it) {
        if (it.owner !== user) { if (it.state !== "sent") { others += 1; } return false; }
        return true;
      });
      shown.sort(function (a, b) { return (a.state === "sent") - (b.state === "sent") || b.created - a.created; });
      list.textContent = "";
      shown.slice(0, 20).forEach(function (it) {
        if (it.state !== "sent") { waiting += 1; }
        list.appendChild(outboxItem(it));
      });
      $("outbox-count").textContent = waiting;
      $("send-now").hidden = !waiting;
      $("outbox").hidden = !shown.length && !others;
      $("others-waiting").hidden = !others;
      $("others-waiting").textContent = fmt(T.othersWaiting, {count: others});
      $("outbox-status").textContent = waiting ? fmt(T.waitingCount, {count: waiting}) : "";
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
    var state = el("p", "state"), photos = it.photos || [];
    var stored = photos.filter(function (p) { return p.state === "sent"; }).length;
    if (it.state === "sent") {
      var link = el("a", "code", it.code);
      link.href = cfg.incidentUrl.replace(/0$/, String(it.incident_id));
      state.appendChild(document.createTextNode(fmt(T.sent, {code: ""})));
      state.appendChild(link);
      if (stored) { state.appendChild(document.createTextNode(" · " + fmt(T.sentPhotos, {count: stored}))); }
    } else if (it.state === "refused") {
      state.textContent = fmt(T.refused, {reason: refusalText(it.error)});
    } else if (it.state === "editing") {
      state.textContent = T.editing;
    } else {
      state.textContent = it.code ? fmt(T.sent, {code: it.code}) + " · " + T.sending : T.queued;
    }
    li.appendChild(state);
    photos.forEach(function (p) {
      if (p.state !== "refused") { return; }
      var line = el("p", "photo-refused", fmt(T.photoRefused, {reason: refusalText(p.error)}));
      line.appendChild(button(T.retryPhoto, "small secondary", function () {
        p.state = "waiting"; it.state = "sending";
        outbox.put(it).then(renderOutbox).then(outbox.sendSoon);
      }));
      line.appendChild(button(T.removePhotoFromReport, "small secondary", function () {
        photos.splice(photos.indexOf(p), 1);
        outbox.put(it).then(renderOutbox);
      }));
      li.appendChild(line);
    });
    if (it.state === "refused") {
      var actions = el("div", "item-actions");
      actions.appendChild(button(T.fix, "small fix", function () { editRefused(it); }));
      actions.appendChild(button(T.remove, "small secondary delete", function () {
        if (window.confirm(T.confirmDelete)) { outbox.remove(it.client_uuid).then(renderOutbox); }
      }));
      li.appendChild(actions);
    }
    return li;
  }
  function storageUse(items) {
    var used = 0;
    items.forEach(function (it) { (it.photos || []).forEach(function (p) { if (p.blob) { used += p.blob.size; } }); });
    var line = $("storage-use");
    if (!navigator.storage || !navigator.storage.estimate) { line.textContent = used ? bytes(used) : ""; return Promise.resolve(); }
    return navigator.storage.estimate().then(function (est) {
      var free = Math.max(0, (est.quota || 0) - (est.usage || 0));
      var low = est.quota && (est.usage / est.quota > 0.8 || free < 50 * 1024 * 1024);
      line.textContent = used ? fmt(T.storage, {used: bytes(used), free: bytes(free)}) : "";
      line.classList.toggle("warning", !!low);
      if (low) { line.textContent += " " + T.storageLow; }
    }, function () { line.textContent = used ? bytes(used) : ""; });
  }

  // --- the form: every report goes into the outbox first, then out ------------------------------
  var editing = null;   // the refused report being corrected (its client UUID is reused)

  function categoryName(code) {
    var input = form.querySelector("input[name=category][value='" + code + "']");
    return input ? input.closest("label").textContent.trim() : code;
  }
  function placeText() {
    var g = localGrid(+lon.value, +lat.value);
    return g ? gridName(g) : (+lat.value).toFixed(5) + ", " + (+lon.value).toFixed(5);
  }
  form.noValidate = true;   // the checks below say what is missing, in words
  form.addEventListener("submit", function (e) {
    if (!outbox.available()) {   // no IndexedDB here: the plain form posts (the client UUID makes a resend harmless)
      if (!lat.value || !lon.value) { e.preventDefault(); fail(T.needLocation, box); return; }
      sendButton.disabled = true;
      return;
    }
    e.preventDefault();
    var category = checkedCategory(), description = form.description.value.trim(), owner = currentUser();
    if (!owner) { showLoginAgain(true); fail(T.loginFirst); return; }
    if (!lat.value || !lon.value) { whereText.textContent = T.noGps; fail(T.needLocation, box); return; }
    if (!category) { $("all-categories").open = true; fail(T.needCategory, $("cat-search")); return; }
    if (!description) { fail(T.needDescription, form.description); return; }
    if (shrinking) { return; }
    sendButton.disabled = true;
    var item = {v: 1, client_uuid: form.client_uuid.value, owner: owner, created: Date.now(),
                observed_at: form.observed_at.value || new Date().toISOString(),
                lon: lon.value, lat: lat.value, place: placeText(), category: category,
                category_name: categoryName(category), description: description,
                address: form.address.value.trim(), urgent: form.urgent.checked, state: "queued",
                photos: pendingPhotos.map(function (p) { return {client_uuid: p.client_uuid, blob: p.blob, name: p.name, state: "waiting"}; })};
    outbox.put(item).then(function () {
      resetForm();
      note(navigator.onLine ? T.savedSending : T.savedOffline, "ok");
      return renderOutbox();
    }).then(function () {
      $("outbox").scrollIntoView({behavior: "smooth", block: "start"});
      return outbox.sendSoon();
    }).catch(function (err) {   // e.g. the phone's storage is full: nothing was lost, the form is as it was
      fail(fmt(T.notSaved, {reason: String(err && err.name || err)}));
    }).then(function () { sendButton.disabled = shrinking > 0; });
  });
  function resetForm() {
    pendingPhotos.forEach(dropPhoto);
    pendingPhotos = [];
    renderThumbs();
    form.reset();
    form.client_uuid.value = newUuid();
    form.observed_at.value = "";
    editing = null;
    clearPin();
    remember(draftKey(), null);
    whereText.textContent = T.noGps;
    if (window.isSecureContext) { locate(false); }
  }
  function formHasContent() { return form.description.value.trim() || pendingPhotos.length; }
  function editRefused(it) {
    if (formHasContent() && !window.confirm(T.confirmReplace)) { return; }
    outbox.all().then(function (items) {   // one correction at a time: another one goes back to refused
      return Promise.all(items.filter(function (o) { return o.state === "editing" && o.client_uuid !== it.client_uuid; })
        .map(function (o) { o.state = "refused"; return outbox.put(o); }));
    }).then(function () {
      it.state = "editing";
      return outbox.put(it);
    }).then(renderOutbox);
    editing = it.client_uuid;
    remember(draftKey(), null);
    pendingPhotos.forEach(dropPhoto);
    form.client_uuid.value = it.client_uuid;
    // A refused clock is asked again; otherwise the time it was seen stays.
    form.observed_at.value = it.error && /^observed_at_/.test(it.error.code) ? "" : it.observed_at;
    form.description.value = it.description;
    form.address.value = it.address || "";
    form.urgent.checked = !!it.urgent;
    form.querySelectorAll("input[name=category]").forEach(function (i) { i.checked = false; });
    var input = form.querySelector("input[name=category][value='" + it.category + "']");
    if (input) { input.checked = true; if (!input.closest("#favourites")) { $("all-categories").open = true; } }
    place(L.latLng(+it.lat, +it.lon), "hand");
    map.setView([+it.lat, +it.lon], Math.max(map.getZoom(), 16));
    pendingPhotos = (it.photos || []).filter(function (p) { return p.blob && p.state !== "sent"; })
      .map(function (p) { return {client_uuid: p.client_uuid, blob: p.blob, name: p.name}; });
    renderThumbs();
    fail(fmt(T.refused, {reason: refusalText(it.error)}), box);
  }

  // A draft of the text survives a reload (per person; not the photos, they are big; not while
  // a refused report is corrected, which is kept in the outbox itself).
  function draftKey() { return DRAFT_PREFIX + (currentUser() || ""); }
  function saveDraft() {
    if (editing || !currentUser()) { return; }
    remember(draftKey(), {description: form.description.value, address: form.address.value, category: checkedCategory()});
  }
  form.addEventListener("input", saveDraft);
  form.addEventListener("change", saveDraft);
  function restoreDraft() {
    var d = recall(draftKey());
    if (!d || form.description.value) { return; }
    form.description.value = d.description || "";
    form.address.value = d.address || "";
    var input = d.category && form.querySelector("input[name=category][value='" + d.category + "']");
    if (input) { input.checked = true; }
  }
  // Logging out on this phone: the next person sees none of this person's drafts or grids.
  document.querySelectorAll("form[action$='/logout']").forEach(function (f) {
    f.addEventListener("submit", function () {
      remember(draftKey(), null); remember(ME_KEY, null);
      if (window.caches) { caches.delete("gridsys-api"); }
    });
  });

  // --- start ------------------------------------------------------------------------------------
  if (!form.client_uuid.value) { form.client_uuid.value = newUuid(); }   // the shell has none of its own
  restoreDraft();
  arrangeCategories();
  if (lat.value && lon.value) { place(L.latLng(+lat.value, +lon.value), "hand"); map.setView([+lat.value, +lon.value], 16); }
  else if (window.isSecureContext) { locate(false); }
  else { whereText.textContent = T.noGps; }

  if (navigator.serviceWorker && window.isSecureContext) {
    navigator.serviceWorker.register(cfg.swUrl, {scope: "/"}).then(function (reg) {
      // Ask for a new version now and whenever the app comes back to the front (the browser's own
      // check after a navigation may come much later); a new one takes over by itself.
      var update = function () { if (navigator.onLine !== false) { reg.update().catch(function () {}); } };
      if (!reg.installing) { update(); }
      document.addEventListener("visibilitychange", function () { if (!document.hidden) { update(); } });
      var installing = reg.installing;
      if (installing) {   // a failed install (an asset missing) must not pass for "works offline"
        installing.addEventListener("statechange", function () {
          if (installing.state === "redundant" && !navigator.serviceWorker.controller) { $("no-offline").hidden = false; }
        });
      }
    }, function () { $("no-offline").hidden = false; });
    // Once the worker controls the page, fetch the grids again so it keeps them for offline use.
    navigator.serviceWorker.addEventListener("controllerchange", function () { loadGrids(false); });
  } else {
    $("no-offline").hidden = false;   // e.g. some in-app browsers: the page works online only
  }
  if (navigator.storage && navigator.storage.persist) { navigator.storage.persist().catch(function () {}); }

  outbox.open().then(function (ok) {
    if (!ok) { $("no-offline").hidden = false; return; }
    return renderOutbox().then(function () {   // the outbox shows at once, whatever the network does
      if (!currentUser()) { showLoginAgain(true); return; }
      return outbox.fetchMe().then(function (auth) { if (auth.loggedOut) { showLoginAgain(true); } },
                                   function () { $("offline-now").hidden = false; });
    }).then(renderOutbox).then(outbox.send);
  });

  window.addEventListener("online", function () { $("offline-now").hidden = true; outbox.sendSoon(); });
  window.addEventListener("offline", function () { $("offline-now").hidden = false; });
  document.addEventListener("visibilitychange", function () { if (!document.hidden) { outbox.send(); } });
  $("send-now").addEventListener("click", function () { outbox.sendSoon(); });
  window.gridsysOutbox = {send: outbox.send, reports: outbox.all};
})();
