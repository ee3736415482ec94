// The administrators' boundary editor on the map: Leaflet-Geoman for drawing and snapping,
// the redraw API for preview and save. Nothing is written until "Save".
var GridsysEditor = (function () {
  "use strict";

  function $(id) { return document.getElementById(id); }
  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }
  function csrf() { var m = document.querySelector('meta[name="csrf-token"]'); return m ? m.content : ""; }

  function init(map, live, opts) {
    var w = opts.words, panel = $("editor");
    if (!panel || !map.pm) { return null; }
    panel.hidden = false;
    var state = {selected: null, feature: null, action: null, body: null, url: null, versions: null,
                 drawn: null, mergeTarget: null, fault: null, lastEffect: null};
    map.pm.setGlobalOptions({snappable: true, snapDistance: 15, allowSelfIntersection: false});

    function message(text, isError) {
      var node = $("ed-message");
      node.textContent = text || "";
      node.className = isError ? "flash error" : (text ? "flash ok" : "");
    }

    function setButtons() {
      panel.querySelectorAll("[data-act]").forEach(function (b) {
        b.disabled = b.dataset.act !== "create" && !state.selected;
      });
      $("ed-preview").disabled = !state.action;
      $("ed-save").disabled = !state.lastEffect;
    }

    function reset() {
      if (state.selected && state.selected.pm) { state.selected.pm.disable(); }
      if (state.drawn) { map.removeLayer(state.drawn); state.drawn = null; }
      if (state.fault) { map.removeLayer(state.fault); state.fault = null; }
      map.pm.disableDraw();
      if (state.feature) { live.grids.resetStyle(state.selected); }
      state.action = null; state.body = null; state.lastEffect = null; state.mergeTarget = null;
      $("ed-effect").textContent = "";
      setButtons();
    }

    function select(layer) {
      if (state.action === "merge" && state.selected && layer !== state.selected) {
        state.mergeTarget = layer.feature.properties.code;
        message(w.selected.replace("{code}", state.mergeTarget).replace("{name}", layer.feature.properties.name));
        setButtons();
        return;
      }
      reset();
      state.selected = layer; state.feature = layer.feature;
      layer.setStyle({color: "#111827", weight: 4});
      $("ed-selected").textContent = w.selected.replace("{code}", layer.feature.properties.code)
        .replace("{name}", layer.feature.properties.name);
      message("");
      setButtons();
    }
    live.grids.on("click", function (e) { L.DomEvent.stopPropagation(e); select(e.layer); });

    function code() { return state.feature.properties.code; }

    function start(action) {
      var keep = state.selected;
      if (action !== "merge") { reset(); state.selected = keep; if (keep) { state.feature = keep.feature; keep.setStyle({color: "#111827", weight: 4}); } }
      state.action = action;
      message("");
      if (action === "reshape") {
        state.selected.pm.enable({snappable: true, allowSelfIntersection: false});
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
      map.pm.disableDraw();
      setButtons();
    });

    function request() {
      var gap = $("ed-gap").value, reason = $("ed-reason").value;
      switch (state.action) {
        case "reshape": return {url: "/grids/" + code() + "/redraw",
          body: {geometry: state.selected.toGeoJSON(false).geometry, gap_policy: gap, reason: reason}};
        case "split": return state.drawn && {url: "/grids/" + code() + "/split",
          body: {line: state.drawn.toGeoJSON(false).geometry, name: $("ed-name").value, reason: reason}};
        case "merge": return state.mergeTarget && {url: "/grids/" + code() + "/merge",
          body: {other: state.mergeTarget, reason: reason}};
        case "move": return {url: "/grids/" + code() + "/move", body: {area: $("ed-area").value, reason: reason}};
        case "delete": return {url: "/grids/" + code() + "/delete", body: {gap_policy: gap, reason: reason}};
        case "create": return state.drawn && {url: "/areas/" + $("ed-area").value + "/grids",
          body: {geometry: state.drawn.toGeoJSON(false).geometry, name: $("ed-name").value, reason: reason}};
        case "restore": return {url: "/grids/" + code() + "/restore",
          body: {revision: state.revision, gap_policy: gap, reason: reason}};
      }
      return null;
    }

    function post(url, body) {
      return fetch(opts.api + url, {method: "POST", credentials: "same-origin",
        headers: {"Content-Type": "application/json", "X-CSRFToken": csrf()}, body: JSON.stringify(body)})
        .then(function (r) { return r.json().then(function (data) { return {status: r.status, data: data}; }); });
    }

    function showFault(error) {
      message(error.message + (error.code === "stale_boundary" ? " — " + w.stale : ""), true);
      if (error.location) {
        if (state.fault) { map.removeLayer(state.fault); }
        state.fault = L.circleMarker([error.location[1], error.location[0]],
          {radius: 12, color: "#dc2626", weight: 3, fillOpacity: 0.2}).addTo(map);
        map.panTo([error.location[1], error.location[0]]);
      }
    }

    function table(headers, rows) {
      var t = el("table"), head = el("tr");
      headers.forEach(function (h) { head.appendChild(el("th", null, h)); });
      t.appendChild(head);
      rows.forEach(function (r) {
        var tr = el("tr");
        r.forEach(function (c) { tr.appendChild(el("td", null, c)); });
        t.appendChild(tr);
      });
      var wrap = el("div", "table-wrap");
      wrap.appendChild(t);
      return wrap;
    }

    function showEffect(data) {
      var box = $("ed-effect");
      box.textContent = "";
      box.appendChild(el("p", null, w.ok + " " + w.gapOpened + ": " + data.checks.gap_opened_m2 + " · " +
                                    w.gapClosed + ": " + data.checks.gap_closed_m2));
      box.appendChild(table([w.grid, w.before, w.after, w.change], data.changes.map(function (c) {
        return [(c.old_code ? c.old_code + " → " : "") + c.code + " (" + c.action + ")", c.area_before_m2,
                c.area_after_m2, c.delta_m2];
      })));
      box.appendChild(el("h3", null, w.moves + " (" + data.moves.length + ")"));
      box.appendChild(data.moves.length ? table([w.incident, w.from, w.to], data.moves.map(function (m) {
        return [m.code, (m.from_grid || m.from_area || "—") + " · " + (m.from_handler || "—"),
                (m.to_grid || m.to_area || "—") + " · " + (m.to_handler || "—")];
      })) : el("p", "muted", w.none));
    }

    $("ed-preview").addEventListener("click", function () {
      var req = request();
      if (!req) { return; }
      post(req.url + "/preview", req.body).then(function (res) {
        if (res.status !== 200) { state.lastEffect = null; showFault(res.data.error); setButtons(); return; }
        state.lastEffect = res.data; state.versions = res.data.versions;
        message("");
        showEffect(res.data);
        setButtons();
      });
    });

    $("ed-save").addEventListener("click", function () {
      var req = request();
      if (!req || !state.lastEffect) { return; }
      if (!req.body.reason) { message(w.reasonNeeded, true); return; }
      req.body.versions = state.versions;
      post(req.url, req.body).then(function (res) {
        if (res.status !== 201) { showFault(res.data.error); return; }
        showEffect(res.data);
        message(w.saved);
        var effect = $("ed-effect").cloneNode(true);
        reset();
        $("ed-effect").replaceWith(effect);
        state.selected = null; state.feature = null;
        live.reloadZones().then(live.reloadIncidents);
        setButtons();
      });
    });

    $("ed-cancel").addEventListener("click", function () { reset(); live.reloadZones(); message(""); });

    function history() {
      fetch(opts.api + "/grids/" + code() + "/revisions", {credentials: "same-origin"})
        .then(function (r) { return r.json(); })
        .then(function (rows) {
          var box = $("ed-effect");
          box.textContent = "";
          var list = el("ol", "timeline");
          rows.forEach(function (r) {
            var li = el("li");
            li.appendChild(el("time", null, r.changed_at.replace("T", " ").slice(0, 16)));
            li.appendChild(el("span", null, " " + r.action + " · " + r.actor + " · " + r.reason));
            if (r.new_geometry) {
              var b = el("button", "secondary small", w.restore);
              b.type = "button";
              b.addEventListener("click", function () { state.action = "restore"; state.revision = r.id; $("ed-preview").click(); });
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
