// The resident's pages (no account; WeChat's in-app browser is the usual one): the page's check
// (a proof of work, residents/guard.py) solved while the resident types, then on the report
// page the place from the phone or a tap on the grid's map, up to three photos shrunk on the
// phone (phone.js) and a client UUID, so that sending twice stores one report.
(function () {
  "use strict";
  var $ = function (id) { return document.getElementById(id); };
  var T = JSON.parse(($("resident-text") || {}).textContent || "{}");
  var form = $("resident-form") || $("recover-form");
  if (!form) { return; }
  var sendButton = $("send"), errorLine = $("form-error");

  function fail(text, field) {
    errorLine.textContent = text;
    errorLine.hidden = !text;
    if (field && field.scrollIntoView) { field.scrollIntoView({block: "center"}); }
  }

  // --- SHA-256 of a short ASCII string: the first two words of the digest are all the check needs.
  var K = new Int32Array([0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
           0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
           0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
           0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
           0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
           0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
           0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
           0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2]);
  var W = new Int32Array(64);
  function sha256(text) {
    var n = text.length, blocks = (n + 72) >> 6, m = new Int32Array(blocks * 16), i, t;
    for (i = 0; i < n; i++) { m[i >> 2] |= (text.charCodeAt(i) & 0xff) << (24 - (i & 3) * 8); }
    m[n >> 2] |= 0x80 << (24 - (n & 3) * 8);
    m[blocks * 16 - 1] = n * 8;
    var h = new Int32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);
    for (var b = 0; b < blocks; b++) {
      for (t = 0; t < 16; t++) { W[t] = m[b * 16 + t]; }
      for (t = 16; t < 64; t++) {
        var x = W[t - 15], y = W[t - 2];
        var s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
        var s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
        W[t] = (W[t - 16] + s0 + W[t - 7] + s1) | 0;
      }
      var A = h[0], B = h[1], C = h[2], D = h[3], E = h[4], F = h[5], G = h[6], H = h[7];
      for (t = 0; t < 64; t++) {
        var S1 = ((E >>> 6) | (E << 26)) ^ ((E >>> 11) | (E << 21)) ^ ((E >>> 25) | (E << 7));
        var t1 = (H + S1 + ((E & F) ^ (~E & G)) + K[t] + W[t]) | 0;
        var S0 = ((A >>> 2) | (A << 30)) ^ ((A >>> 13) | (A << 19)) ^ ((A >>> 22) | (A << 10));
        var t2 = (S0 + ((A & B) ^ (A & C) ^ (B & C))) | 0;
        H = G; G = F; F = E; E = (D + t1) | 0; D = C; C = B; B = A; A = (t1 + t2) | 0;
      }
      h[0] = (h[0] + A) | 0; h[1] = (h[1] + B) | 0; h[2] = (h[2] + C) | 0; h[3] = (h[3] + D) | 0;
      h[4] = (h[4] + E) | 0; h[5] = (h[5] + F) | 0; h[6] = (h[6] + G) | 0; h[7] = (h[7] + H) | 0;
    }
    return h;
  }
  function zeroBits(h) { return h[0] === 0 ? 32 + Math.clz32(h[1]) : Math.clz32(h[0]); }
  window.GridsysProof = {sha256: sha256, zeroBits: zeroBits};

  // --- the page's check: solved in slices, so the page stays responsive -------------------------
  var challenge = $("challenge"), counterField = $("counter"), waitingToSend = false;
  function solve() {
    var text = challenge.value, bits = +challenge.getAttribute("data-bits"), counter = 0;
    return new Promise(function (resolve) {
      (function slice() {
        var end = counter + 5000;
        for (; counter < end; counter++) {
          if (zeroBits(sha256(text + counter)) >= bits) { counterField.value = String(counter); resolve(); return; }
        }
        setTimeout(slice, 0);
      })();
    });
  }
  solve().then(function () {
    form.setAttribute("data-proof", "done");
    if (waitingToSend) { send(); }
  });

  function send() {
    sendButton.disabled = true;
    sendButton.textContent = T.checking || sendButton.textContent;
    form.submit();   // not requestSubmit: the checks below have passed
  }

  // --- the report page: the place, the photos, the client UUID -----------------------------------
  var report = form.id === "resident-form";
  var lon = $("lon"), lat = $("lat"), whereText = $("where-text"), photoInput = $("photo-input");
  var kept = [], shrinking = 0;

  if (report) {
    if (!$("client-uuid").value) { $("client-uuid").value = GridsysPhone.newUuid(); }
    var box = $("resident-map"), map = window[box.dataset.map], marker = null, byHand = false;

    var place = function (latlng, how) {
      lat.value = latlng.lat.toFixed(7);
      lon.value = latlng.lng.toFixed(7);
      if (how === "hand") { byHand = true; }
      if (marker) { marker.setLatLng(latlng); }
      else {
        marker = L.marker(latlng, {draggable: true, autoPan: true}).addTo(map);
        marker.on("dragend", function () { place(marker.getLatLng(), "hand"); });
      }
      if (how === "gps") { map.setView(latlng, Math.max(map.getZoom(), 16)); }
      whereText.textContent = T.located.replace("{lat}", lat.value).replace("{lon}", lon.value);
    };
    map.on("click", function (e) { place(e.latlng, "hand"); });
    $("locate-me").addEventListener("click", function () {
      if (!navigator.geolocation) { whereText.textContent = T.noGps; return; }
      byHand = false;
      whereText.textContent = T.locating;
      navigator.geolocation.getCurrentPosition(function (p) {
        if (!byHand) { place(L.latLng(p.coords.latitude, p.coords.longitude), "gps"); }
      }, function () { whereText.textContent = lat.value ? whereText.textContent : T.noGps; },
      {enableHighAccuracy: true, timeout: 15000, maximumAge: 60000});
    });
    if (lat.value && lon.value) { place(L.latLng(+lat.value, +lon.value), "hand"); }

    // Photos: each pick is added (a phone's camera gives one at a time), shrunk one at a time,
    // and the input then carries the shrunk copies (where the browser lets a script set them).
    var canSetFiles = (function () { try { return !!new DataTransfer().files; } catch (e) { return false; } })();
    var renderThumbs = function () {
      var list = $("photo-thumbs");
      list.textContent = "";
      kept.forEach(function (file, i) {
        var li = document.createElement("li"), img = document.createElement("img"), remove = document.createElement("button");
        li.className = "thumb";
        img.alt = "";
        img.src = URL.createObjectURL(file);
        img.onload = function () { URL.revokeObjectURL(img.src); };
        remove.type = "button";
        remove.className = "remove";
        remove.textContent = "×";
        remove.setAttribute("aria-label", (T.removePhoto || "").replace("{n}", i + 1));
        remove.addEventListener("click", function () { kept.splice(i, 1); setFiles(); renderThumbs(); });
        li.appendChild(img);
        li.appendChild(remove);
        list.appendChild(li);
      });
    };
    var setFiles = function () {
      var dt = new DataTransfer();
      kept.forEach(function (f) { dt.items.add(f); });
      photoInput.files = dt.files;
    };
    var busy = function (delta) {
      shrinking += delta;
      sendButton.disabled = shrinking > 0;
      sendButton.textContent = shrinking > 0 ? T.preparingPhotos : T.send;
    };
    if (canSetFiles) {
      photoInput.addEventListener("change", function () {
        var max = +photoInput.getAttribute("data-max") || 3;
        var picked = Array.prototype.slice.call(photoInput.files || []);
        var room = Math.max(0, max - kept.length);
        if (picked.length > room) { fail(T.tooManyPhotos); }
        picked = picked.slice(0, room);
        setFiles();   // the input shows what is kept until the new ones are ready
        busy(picked.length);
        picked.reduce(function (chain, f) {
          return chain.then(function () { return GridsysPhone.shrink(f); }).then(function (blob) {
            var name = (f.name || "photo").replace(/\.\w+$/, "") + (blob.type === "image/jpeg" ? ".jpg" : "");
            kept.push(blob === f ? f : new File([blob], name, {type: blob.type}));
            setFiles();
            renderThumbs();
            busy(-1);
          });
        }, Promise.resolve());
      });
    }
  }

  form.noValidate = true;   // the checks below say what is missing, in words
  form.addEventListener("submit", function (e) {
    e.preventDefault();
    fail("");
    if (report) {
      if (!lat.value || !lon.value) { fail(T.needLocation, $("resident-map")); return; }
      if (!form.querySelector("input[name=category]:checked")) { fail(T.needCategory, form.querySelector(".resident-categories")); return; }
      if (!form.description.value.trim()) { fail(T.needDescription, form.description); return; }
      if (shrinking) { return; }
    } else if (!form.checkValidity()) { form.reportValidity(); return; }
    if (form.getAttribute("data-proof") === "done") { send(); return; }
    waitingToSend = true;   // sent by itself once the check is done
    sendButton.disabled = true;
    sendButton.textContent = T.checking;
  });
})();
