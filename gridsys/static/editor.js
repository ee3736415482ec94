// The administrators' boundary editor on the map: Leaflet-Geoman for drawing and snapping,
// the redraw API for preview and save. Nothing is written until "Save", and Save writes only the
// plan last previewed: any change after a preview marks it out of date (the API refuses it too,
// by the preview's token). Words come from the page (map/views.py and #ed-words), translated.
var GridsysEditor = (function () {
  "use strict";

  var EDIT_EVENTS = "pm:edit pm:change pm:markerdragstart pm:markerdragend pm:vertexadded pm:vertexremoved " +
                    "pm:cut pm:rotateend pm:dragend";

  function $(id) { return document.getElementById(id); }
  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }
  function csrf() { var m = document.querySelector('meta[name="csrf-token"]'); return m ? m.content : ""; }
  function copy(value) { return JSON.parse(JSON.stringify(value)); }
  function phone() { return window.matchMedia("(max-width: 47.99rem)").matches; }

  function localTime(iso, zone) {
    // Revisions carry UTC; people read the towns' time (GRIDSYS_TIMEZONE), as on every other page.
    try {
      var parts = {};
      new Intl.DateTimeFormat("en-GB", {timeZone: zone || undefined, year: "numeric", month: "2-digit",
        day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23"})
        .formatToParts(new Date(iso)).forEach(function (p) { parts[p.type] = p.value; });
      return parts.year + "-" + parts.month + "-" + parts.day + " " + parts.hour + ":" + parts.minute;
    } catch (e) {
      return iso.replace("T", " ").slice(0, 16);
    }
  }

  // Laptops: the panel beside the map; phones: under it (CSS in editor.css). The map element is
  // moved into the layout, not recreated, so Leaflet keeps it.
  function layOut(map, panel) {
    var box = $("map-box"), layout = el("div", "ed-layout");
    box.parentNode.insertBefore(layout, box);
    layout.appendChild(box);
    layout.appendChild(panel);
    map.invalidateSize();
    return layout;
  }

  function init(map, live, opts) {
    var panel = $("editor"), wordsNode = $("ed-words");
    if (!panel || !map.pm) { return null; }
    var w = Object.assign({}, opts.words, wordsNode ? JSON.parse(wordsNode.textContent) : {});
    var zone = panel.dataset.timezone;
    panel.hidden = false;
    var layout = layOut(map, panel), sheet = $("ed-sheet");
    var state = {selected: null, feature: null, action: null, drawn: null, mergeTarget: null, fault: null,
                 revision: null, preview: null};
    map.pm.setGlobalOptions({snappable: true, snapDistance: 15, allowSelfIntersection: false});

    function message(text, isError) {
      var node = $("ed-message");
      node.textContent = text || "";
      node.className = isError ? "flash error" : (text ? "flash ok" : "");
    }

    function actionLabel(action) { return (w.actions && w.actions[action]) || action; }

    // --- what would be sent, and whether it is still what was previewed ----------------------

    function code() { return state.feature.properties.code; }

    function request() {
      var gap = $("ed-gap").value;
      switch (state.action) {
        case "reshape": return {url: "/grids/" + code() + "/redraw",
          body: {geometry: state.selected.toGeoJSON(false).geometry, gap_policy: gap}};
        case "split": return state.drawn && {url: "/grids/" + code() + "/split",
          body: {line: state.drawn.toGeoJSON(false).geometry, name: $("ed-name").value}};
        case "merge": return state.mergeTarget && {url: "/grids/" + code() + "/merge",
          body: {other: state.mergeTarget}};
        case "move": return {url: "/grids/" + code() + "/move", body: {area: $("ed-area").value}};
        case "delete": return {url: "/grids/" + code() + "/delete", body: {gap_policy: gap}};
        case "create": return state.drawn && {url: "/areas/" + $("ed-area").value + "/grids",
          body: {geometry: state.drawn.toGeoJSON(false).geometry, name: $("ed-name").value}};
        case "restore": return {url: "/grids/" + code() + "/restore",
          body: {revision: state.revision, gap_policy: gap}};
      }
      return null;
    }

    function fingerprint(req) { return req ? req.url + " " + JSON.stringify(req.body) : null; }

    function stillPreviewed() {
      var p = state.preview;
      if (p && !p.stale && fingerprint(request()) !== p.key) { p.stale = true; }
      return !!(p && !p.stale);
    }

    function changed() {  // anything after a preview puts it out of date, even a change undone
      if (state.preview) { state.preview.stale = true; }
      setButtons();
    }

    function setButtons() {
      panel.querySelectorAll("[data-act]").forEach(function (b) {
        b.disabled = b.dataset.act !== "create" && !state.selected;
      });
      $("ed-preview").disabled = !state.action || state.action === "history";
      var fresh = stillPreviewed();
      $("ed-save").disabled = !fresh;
      $("ed-stale").hidden = !state.preview || fresh;
      sheet.classList.toggle("stale", !!state.preview && !fresh);
      sheet.hidden = !state.preview;
      layout.classList.toggle("ed-previewing", !!state.preview);
    }

    function closePreview() {
      if (state.preview) { state.preview = null; map.invalidateSize(); }
      $("ed-effect").textContent = "";
    }

    // While a shape is being edited its vertices must be on top: the late and escalated incidents'
    // pane (map.js) sits above ordinary markers, and would catch the drag of a vertex under one.
    function vertexesOnTop(on) {
      var hot = map.getPane("gsHot");
      if (hot) { hot.style.zIndex = on ? 590 : 640; hot.style.pointerEvents = on ? "none" : ""; }
    }

    function reset() {
      vertexesOnTop(false);
      if (state.selected) {
        state.selected.off(EDIT_EVENTS, changed);
        if (state.selected.pm) { state.selected.pm.disable(); }
      }
      if (state.drawn) { map.removeLayer(state.drawn); state.drawn = null; }
      if (state.fault) { map.removeLayer(state.fault); state.fault = null; }
      map.pm.disableDraw();
      if (state.feature) { live.grids.resetStyle(state.selected); }
      state.action = null; state.mergeTarget = null; state.revision = null;
      closePreview();
      setButtons();
    }

    function select(layer) {
      if (state.action === "merge" && state.selected && layer !== state.selected) {
        state.mergeTarget = layer.feature.properties.code;
        message(w.selected.replace("{code}", state.mergeTarget).replace("{name}", layer.feature.properties.name));
        changed();
        return;
      }
      reset();
      state.selected = layer; state.feature = layer.feature;
      layer.setStyle({color: "#111827", weight: 4});
      $("ed-selected").textContent = w.selected.replace("{code}", layer.feature.properties.code)
        .replace("{name}", layer.feature.properties.name);
      $("ed-history").textContent = "";
      message("");
      setButtons();
    }
    live.grids.on("click", function (e) { L.DomEvent.stopPropagation(e); select(e.layer); });

    function start(action) {
      var keep = state.selected;
      if (action !== "merge") {
        reset(); state.selected = keep;
        if (keep) { state.feature = keep.feature; keep.setStyle({color: "#111827", weight: 4}); }
      } else {
        closePreview();
      }
      state.action = action;
      message("");
      if (action === "reshape") {
        state.selected.pm.enable({snappable: true, allowSelfIntersection: false});
        state.selected.on(EDIT_EVENTS, changed);
        vertexesOnTop(true);
        message(w.editing);
      } else if (action === "split") {
        map.pm.enableDraw("Line", {snappable: true});
        message(w.drawLine);
      } else if (action === "create") {
        map.pm.enableDraw("Polygon", {snappable: true});
        message(w.drawPolygon);
      } else if (action === "merge") {
        message(w.pickMerge);
      } else if (action === "history") {
        history();
      }
      setButtons();
    }

    map.on("pm:create", function (e) {
      if (state.drawn) { map.removeLayer(state.drawn); }
      state.drawn = e.layer;
      state.drawn.on(EDIT_EVENTS, changed);
      map.pm.disableDraw();
      changed();
    });
    ["ed-gap", "ed-name", "ed-area"].forEach(function (id) {
      $(id).addEventListener("input", changed);
      $(id).addEventListener("change", changed);
    });

    // --- talking to the API -------------------------------------------------------------------

    function post(url, body) {
      return fetch(opts.api + url, {method: "POST", credentials: "same-origin",
        headers: {"Content-Type": "application/json", "X-CSRFToken": csrf()}, body: JSON.stringify(body)})
        .then(function (r) { return r.json().then(function (data) { return {status: r.status, data: data}; }); });
    }

    function showFault(error) {
      // In the page's language, from the refusal catalogue, with the refusal's details filled in.
      var errors = w.errors || {};
      var text = (errors[error.code] || errors.other || error.message).replace(/\{(\w+)\}/g, function (all, key) {
        return key === "code" ? error.code : (error[key] !== undefined && error[key] !== null ? String(error[key]) : "");
      });
      message(text + (error.code === "stale_boundary" ? " — " + w.stale : ""), true);
      if (error.location) {
        if (state.fault) { map.removeLayer(state.fault); }
        state.fault = L.circleMarker([error.location[1], error.location[0]],
          {radius: 12, color: "#dc2626", weight: 3, fillOpacity: 0.2}).addTo(map);
        map.panTo([error.location[1], error.location[0]]);
      }
    }

    // columns: [[key, heading], …]; on phones app.css shows each row as a card labelled by data-label.
    function table(columns, rows) {
      var t = el("table"), head = el("thead"), headRow = el("tr"), body = el("tbody");
      columns.forEach(function (c) { headRow.appendChild(el("th", null, c[1])); });
      head.appendChild(headRow);
      t.appendChild(head);
      rows.forEach(function (r) {
        var tr = el("tr");
        r.forEach(function (value, i) {
          var td = el("td", i === 0 ? "title" : (typeof value === "number" ? "num" : null), value);
          td.dataset.col = columns[i][0];
          if (i > 0) { td.dataset.label = columns[i][1]; }
          tr.appendChild(td);
        });
        body.appendChild(tr);
      });
      t.appendChild(body);
      var wrap = el("div", "table-wrap");
      wrap.appendChild(t);
      return wrap;
    }

    function effectOf(data) {
      var box = el("div", "ed-effect-body");
      box.appendChild(el("p", null, w.ok + " " + w.gapOpened + ": " + data.checks.gap_opened_m2 + " · " +
                                    w.gapClosed + ": " + data.checks.gap_closed_m2));
      box.appendChild(table([["grid", w.grid], ["change", w.change], ["after", w.after], ["before", w.before]],
                            data.changes.map(function (c) {
        return [(c.old_code ? c.old_code + " → " : "") + c.code + " · " + actionLabel(c.action), c.delta_m2,
                c.area_after_m2, c.area_before_m2];
      })));
      box.appendChild(el("h4", null, w.moves + " (" + data.moves.length + ")"));
      box.appendChild(data.moves.length ? table([["incident", w.incident], ["from", w.from], ["to", w.to]],
                                                data.moves.map(function (m) {
        return [m.code, (m.from_grid || m.from_area || "—") + " · " + (m.from_handler || "—"),
                (m.to_grid || m.to_area || "—") + " · " + (m.to_handler || "—")];
      })) : el("p", "muted", w.none));
      return box;
    }

    // Map and preview on screen together: the panel scrolled to the preview beside the map
    // (laptops), or the map under the header above the preview's bottom sheet (phones).
    function reveal() {
      map.invalidateSize();
      var header = document.querySelector(".topbar"), top = header ? header.getBoundingClientRect().bottom : 0;
      var box = $("map-box").getBoundingClientRect();
      if (phone()) {
        window.scrollTo(0, window.scrollY + box.top - top - 8);
        sheet.scrollTop = 0;
        return;
      }
      panel.scrollTop = Math.max(0, sheet.offsetTop - 8);
      var rect = layout.getBoundingClientRect();
      if (rect.top < top || rect.bottom > window.innerHeight) {
        window.scrollTo(0, window.scrollY + rect.top - top - 8);
      }
    }

    function runPreview() {
      var req = request();
      if (!req) { return; }
      var key = fingerprint(req), body = copy(req.body);
      post(req.url + "/preview", body).then(function (res) {
        if (res.status !== 200) {
          closePreview(); showFault(res.data.error); setButtons(); return;
        }
        state.preview = {key: key, url: req.url, body: body, token: res.data.preview_token,
                         versions: res.data.versions, stale: false};
        message("");
        var box = $("ed-effect");
        box.textContent = "";
        box.appendChild(effectOf(res.data));
        setButtons();  // a change made while the preview was on its way already makes it stale
        reveal();
      });
    }
    $("ed-preview").addEventListener("click", runPreview);
    $("ed-repreview").addEventListener("click", runPreview);

    $("ed-save").addEventListener("click", function () {
      if (!stillPreviewed()) { setButtons(); return; }
      var reason = $("ed-reason").value.trim();
      if (!reason) { message(w.reasonNeeded, true); $("ed-reason").focus(); return; }
      var p = state.preview;  // exactly the body previewed, with the preview's token
      var body = Object.assign(copy(p.body), {reason: reason, versions: p.versions, preview_token: p.token});
      $("ed-save").disabled = true;
      post(p.url, body).then(function (res) {
        if (res.status !== 201) {
          if (["preview_stale", "preview_required", "stale_boundary"].indexOf(res.data.error.code) >= 0 &&
              state.preview === p) { p.stale = true; }
          showFault(res.data.error); setButtons(); return;
        }
        var result = $("ed-history");
        result.textContent = "";
        result.appendChild(effectOf(res.data));
        reset();
        $("ed-reason").value = "";
        message(w.saved);
        state.selected = null; state.feature = null;
        live.reloadZones().then(live.reloadIncidents);
        setButtons();
      });
    });

    function discard() { reset(); $("ed-history").textContent = ""; live.reloadZones(); message(""); }
    $("ed-cancel").addEventListener("click", discard);
    $("ed-discard").addEventListener("click", discard);

    function history() {
      fetch(opts.api + "/grids/" + code() + "/revisions", {credentials: "same-origin"})
        .then(function (r) { return r.json(); })
        .then(function (rows) {
          var box = $("ed-history");
          box.textContent = "";
          var list = el("ol", "timeline");
          rows.forEach(function (r) {
            var li = el("li");
            li.appendChild(el("time", null, localTime(r.changed_at, zone)));
            li.appendChild(el("span", null, " " + [actionLabel(r.action), r.actor, r.reason || w.noReason].join(" · ")));
            if (r.new_geometry) {
              var b = el("button", "secondary small", w.restore);
              b.type = "button";
              b.addEventListener("click", function () {
                closePreview(); state.action = "restore"; state.revision = r.id; runPreview();
              });
              li.appendChild(b);
            }
            list.appendChild(li);
          });
          box.appendChild(list);
        });
    }

    panel.querySelectorAll("[data-act]").forEach(function (b) {
      b.addEventListener("click", function () { start(b.dataset.act); });
    });
    setButtons();
    return state;
  }

  return {init: init};
})();
