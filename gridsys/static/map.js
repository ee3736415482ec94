// gridsys live map layers: zones and clustered incidents from the app's GeoJSON API,
// filtered by the viewer's scope (server side), the map's bounds and the filter form.
// Every user-written string is inserted as text (textContent), never as HTML.
// Overdue and escalated incidents are never hidden in a cluster: they are drawn one by one in a
// pane above the clusters (up to HOT_UNCLUSTERED of them; past that they cluster too), and a
// cluster takes the colour of its most urgent member.
var GridsysMap = (function () {
  "use strict";

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }

  var HOT_UNCLUSTERED = 300;
  var TIERS = ["normal", "urgent", "escalated", "overdue"];   // least to most urgent

  // 0 normal, 1 urgent, 2 escalated, 3 overdue (overdue or escalated are "hot": tier >= 2).
  function tier(p) {
    if (p.overdue) { return 3; }
    if (p.escalation_level > 0) { return 2; }
    return p.priority === "urgent" ? 1 : 0;
  }

  // A cluster's icon: a 44 px tap target coloured after its most urgent member.
  function clusterIcon(cluster) {
    var most = 0, n = cluster.getChildCount();
    cluster.getAllChildMarkers().forEach(function (m) { most = Math.max(most, m.options.tier || 0); });
    var size = n < 10 ? 44 : n < 100 ? 50 : 58;
    return L.divIcon({html: "<div><span>" + n + "</span></div>", iconSize: L.point(size, size),
                      className: "marker-cluster gs-cluster " + TIERS[most]});
  }

  function fmt(template, value) { return template.replace("{t}", value).replace("{n}", value); }

  function age(iso, words) {
    var minutes = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 60000));
    if (minutes < 60) { return minutes + " " + words.minutes; }
    if (minutes < 48 * 60) { return Math.round(minutes / 60) + " " + words.hours; }
    return Math.round(minutes / 1440) + " " + words.days;
  }

  function gridStyle(mode) {
    return function (feature) {
      var p = feature.properties, open = p.open || 0;
      var fill = open === 0 ? "#e2e8f0" : open <= 2 ? "#fde68a" : open <= 5 ? "#fb923c" : "#dc2626";
      var style = {color: "#1d4ed8", weight: 1.5, fillColor: fill, fillOpacity: mode === "worker" ? 0.15 : 0.35};
      if (mode === "admin" && p.missing > 0) { style.color = "#ea580c"; style.weight = 3; style.dashArray = "6 4"; }
      return style;
    };
  }

  function init(map, opts) {
    var words = opts.words;
    var box = map.getContainer().closest(".map-box") || map.getContainer();
    var statusLine = document.getElementById("map-status");
    var list = document.getElementById("map-list");
    var form = document.getElementById("map-filters");
    if (form) { form.addEventListener("submit", function (e) { e.preventDefault(); }); }   // filters apply as they change
    var cluster = L.markerClusterGroup({chunkedLoading: true, showCoverageOnHover: false, maxClusterRadius: 50,
                                        iconCreateFunction: clusterIcon});
    map.createPane("gsHot").style.zIndex = 640;   // above markers and clusters (600), below tooltips (650)
    var hot = L.layerGroup().addTo(map);
    var grids = L.geoJSON(null, {style: gridStyle(opts.mode), onEachFeature: bindGrid}).addTo(map);
    var gaps = null;
    var state = {map: map, cluster: cluster, hot: hot, grids: grids, count: 0, fetches: 0, ready: false,
                 hotLimit: opts.hotLimit === undefined ? HOT_UNCLUSTERED : opts.hotLimit};
    var pending = null, fitted = false, fitting = false;
    map.addLayer(cluster);

    function bindGrid(feature, layer) {
      var p = feature.properties;
      var tip = el("div");
      tip.appendChild(el("strong", null, p.name));
      tip.appendChild(el("div", "muted", p.code));
      if (opts.mode !== "worker") { tip.appendChild(el("div", null, words.open + ": " + p.open)); }
      if (opts.mode === "admin" && p.missing > 0) { tip.appendChild(el("div", null, fmt(words.unassigned, p.missing))); }
      layer.bindTooltip(tip, {sticky: true});
    }

    function handlerName(p) { return p.assignee_name || p.assignee || "—"; }

    function levelBadge(p) { return words.levels[p.escalation_level] || words.escalated; }

    function popupFor(f) {
      var p = f.properties, node = el("div", "gs-popup");
      node.appendChild(el("strong", null, p.code));
      node.appendChild(el("div", null, opts.categories[p.category] || p.category));
      node.appendChild(el("div", "muted", fmt(words.age, age(p.created_at, words))));
      node.appendChild(el("div", null, words.handler + ": " + handlerName(p)));
      if (p.overdue) { node.appendChild(el("div", "badge overdue", words.overdue)); }
      if (p.escalation_level > 0) { node.appendChild(el("div", "badge escalated", levelBadge(p))); }
      var link = el("a", null, words.details);
      link.href = opts.incidentUrl + encodeURIComponent(f.id);
      node.appendChild(link);
      return node;
    }

    // The icon is a 44 px tap target; the dot drawn inside it is what one sees.
    function markerFor(f, unclustered) {
      var p = f.properties, c = f.geometry.coordinates, t = tier(p);
      var cls = "inc-marker " + (p.overdue ? "overdue" : "open") + (p.escalation_level > 0 ? " escalated" : "") +
                (p.priority === "urgent" ? " urgent" : "");
      var options = {icon: L.divIcon({className: cls, html: "<i></i>", iconSize: [44, 44]}),
                     zIndexOffset: 100 * t, keyboard: false, tier: t};
      if (unclustered) { options.pane = "gsHot"; }
      var marker = L.marker([c[1], c[0]], options);
      marker.feature = f;
      marker.on("add", function () { marker.getElement().dataset.incident = String(f.id); });
      marker.bindPopup(function () { return popupFor(f); });
      return marker;
    }

    function drawMarkers(features) {
      var hotOnes = features.filter(function (f) { return tier(f.properties) >= 2; });
      var apart = hotOnes.length <= state.hotLimit;
      cluster.clearLayers();
      hot.clearLayers();
      cluster.addLayers(features.filter(function (f) { return !apart || tier(f.properties) < 2; })
                                .map(function (f) { return markerFor(f, false); }));
      if (apart) { hotOnes.forEach(function (f) { hot.addLayer(markerFor(f, true)); }); }
    }

    function urgency(p) { return (p.escalation_level > 0 ? 2 : 0) + (p.overdue ? 1 : 0); }

    function renderList(features) {
      if (!list) { return; }
      var sorted = features.slice().sort(function (a, b) {
        var d = urgency(b.properties) - urgency(a.properties);
        return d !== 0 ? d : Date.parse(a.properties.due_at || 0) - Date.parse(b.properties.due_at || 0);
      });
      list.textContent = "";
      sorted.slice(0, 50).forEach(function (f) {
        var p = f.properties, item = el("li", "incident" + (p.overdue ? " overdue" : "") + (p.escalation_level ? " escalated" : ""));
        var a = el("a");
        a.href = opts.incidentUrl + encodeURIComponent(f.id);
        a.appendChild(el("span", "code", p.code));
        a.appendChild(el("strong", null, opts.categories[p.category] || p.category));
        if (p.overdue) { a.appendChild(el("span", "badge overdue", words.overdue)); }
        if (p.escalation_level) { a.appendChild(el("span", "badge escalated", levelBadge(p))); }
        a.appendChild(el("span", "desc", words.handler + ": " + handlerName(p) + " · " + fmt(words.age, age(p.created_at, words))));
        item.appendChild(a);
        list.appendChild(item);
      });
      if (!sorted.length) { list.appendChild(el("li", "empty", words.none)); }
      else if (sorted.length > 50) { list.appendChild(el("li", "empty", fmt(words.more, sorted.length - 50))); }
    }

    function query() {
      var params = new URLSearchParams();
      if (form) {
        new FormData(form).forEach(function (value, key) { if (value) { params.set(key, value); } });
      }
      if (!params.get("status")) { params.set("status", "open"); }
      if (opts.mode === "worker" && !params.has("mine")) { /* scope already limits a worker to their grids */ }
      var b = map.getBounds().pad(0.25);
      params.set("bbox", [Math.max(b.getWest(), -180), Math.max(b.getSouth(), -90),
                          Math.min(b.getEast(), 180), Math.min(b.getNorth(), 90)].map(function (v) { return v.toFixed(6); }).join(","));
      return params.toString();
    }

    function loadIncidents() {
      if (pending) { pending.abort(); }
      pending = new AbortController();
      state.fetches += 1;
      return fetch(opts.incidentsUrl + "?" + query(), {credentials: "same-origin", signal: pending.signal})
        .then(function (r) { if (!r.ok) { throw new Error("HTTP " + r.status); } return r.json(); })
        .then(function (data) {
          drawMarkers(data.features);
          state.count = data.features.length;
          renderList(data.features);
          var late = data.features.filter(function (f) { return f.properties.overdue; }).length;
          if (statusLine) { statusLine.textContent = words.open + ": " + state.count + " · " + words.overdue + ": " + late; }
          state.ready = true;
          box.dataset.incidents = String(state.count);
          box.dataset.ready = "1";
        })
        .catch(function (err) { if (err.name !== "AbortError" && statusLine) { statusLine.textContent = String(err.message); } });
    }

    function loadZones() {
      var jobs = [fetch(opts.gridsUrl, {credentials: "same-origin"}).then(function (r) { return r.json(); })
        .then(function (data) {
          grids.clearLayers();
          grids.addData(data);
          if (!fitted && data.features.length) {
            fitting = true;  // our own fit: the incidents are fetched once, for the fitted view
            map.fitBounds(grids.getBounds(), {animate: false});
            fitting = false;
            fitted = true;
          }
        })];
      if (opts.gapsUrl) {
        jobs.push(fetch(opts.gapsUrl, {credentials: "same-origin"}).then(function (r) { return r.json(); })
          .then(function (data) {
            if (gaps) { map.removeLayer(gaps); }
            gaps = L.geoJSON(data, {style: {color: "#dc2626", weight: 2, dashArray: "2 4", fillColor: "#dc2626", fillOpacity: 0.25},
              onEachFeature: function (f, layer) { layer.bindTooltip(el("span", null, words.gap + " · " + f.properties.code)); }
            }).addTo(map);
          }));
      }
      return Promise.all(jobs);
    }

    var moveTimer = null;
    map.on("moveend", function () {
      if (fitting) { return; }
      clearTimeout(moveTimer);
      moveTimer = setTimeout(loadIncidents, 300);
    });
    if (form) { form.addEventListener("change", loadIncidents); }

    if (opts.mode === "worker") {
      map.on("click", function (e) {
        var link = el("a", "button", words.reportHere);
        link.href = opts.reportUrl + "?lon=" + e.latlng.lng.toFixed(7) + "&lat=" + e.latlng.lat.toFixed(7);
        L.popup().setLatLng(e.latlng).setContent(link).openOn(map);
      });
      if (navigator.geolocation && window.isSecureContext) {
        var me = null;
        navigator.geolocation.watchPosition(function (pos) {
          var ll = [pos.coords.latitude, pos.coords.longitude];
          if (!me) { me = L.marker(ll, {icon: L.divIcon({className: "me-marker", iconSize: [16, 16]}), title: words.you}).addTo(map); }
          else { me.setLatLng(ll); }
        }, function () {}, {enableHighAccuracy: true, maximumAge: 30000});
      }
    }

    state.reloadZones = loadZones;
    state.reloadIncidents = loadIncidents;
    state.loaded = loadZones().then(loadIncidents);
    if (opts.refreshSeconds) {
      setInterval(function () { if (!document.hidden) { loadIncidents(); } }, opts.refreshSeconds * 1000);
    }
    return state;
  }

  return {init: init};
})();
