// gridsys live map layers. Incidents come from vector tiles (static/map_tiles.js): where a tile is
// summarised the server's clusters are drawn as counts (a tap zooms in) and the page says so;
// the single incidents of the tiles are clustered here. The list under the map (GeoJSON by bbox)
// is fetched while the view holds at most opts.listLimit incidents. Zones: the scope's grids as
// GeoJSON when it has few (opts.gridsWhole), else zone tiles, with the grids of the view as
// GeoJSON (tooltips, the editor) once it holds few. Everything is filtered by the viewer's scope
// on the server. Every user-written string is inserted as text (textContent), never as HTML.
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

  // A cluster of the server (a summarised tile): sized by its count, coloured by its most urgent.
  function serverClusterIcon(p) {
    var most = p.overdue > 0 ? 3 : p.escalated > 0 ? 2 : p.urgent > 0 ? 1 : 0;
    var size = Math.min(72, 44 + Math.round(6 * Math.log10(Math.max(1, p.count))));
    var outer = el("div"), label = el("span", null, p.count);
    outer.appendChild(label);
    return L.divIcon({html: outer, iconSize: L.point(size, size), className: "marker-cluster gs-cluster gs-summary " + TIERS[most]});
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
    var note = document.getElementById("map-note");
    var list = document.getElementById("map-list");
    var form = document.getElementById("map-filters");
    if (form) { form.addEventListener("submit", function (e) { e.preventDefault(); }); }   // filters apply as they change
    var cluster = L.markerClusterGroup({chunkedLoading: true, showCoverageOnHover: false, maxClusterRadius: 50,
                                        iconCreateFunction: clusterIcon});
    map.createPane("gsHot").style.zIndex = 640;   // above markers and clusters (600), below tooltips (650)
    map.createPane("gsZones").style.zIndex = 350;  // zone tiles: above the basemap, under the GeoJSON grids
    var tilePane = map.createPane("gsTiles");      // the incident tiles' (empty) elements
    tilePane.style.zIndex = 210;
    tilePane.style.pointerEvents = "none";
    var hot = L.layerGroup().addTo(map);
    var grids = L.geoJSON(null, {style: gridStyle(opts.mode), onEachFeature: bindGrid}).addTo(map);
    var gaps = null, zoneTiles = null, stamp = 0;
    var state = {map: map, cluster: cluster, hot: hot, grids: grids, count: 0, fetches: 0, ready: false,
                 hotLimit: opts.hotLimit === undefined ? HOT_UNCLUSTERED : opts.hotLimit, drawnAt: null};
    var pending = null, tiles = {}, drawQueued = false;
    map.addLayer(cluster);
    if (opts.bounds) {
      map.fitBounds([[opts.bounds[1], opts.bounds[0]], [opts.bounds[3], opts.bounds[2]]], {animate: false});
    }

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

    function when(iso) { return iso ? new Date(iso).toLocaleString(document.documentElement.lang || undefined) : "—"; }

    function popupFor(f) {
      var p = f.properties, node = el("div", "gs-popup");
      node.appendChild(el("strong", null, p.code));
      node.appendChild(el("div", null, opts.categories[p.category] || p.category));
      node.appendChild(el("div", null, words.statuses[p.status] || p.status));
      node.appendChild(el("div", null, words.due + ": " + when(p.due_at)));
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

    // --- incident tiles --------------------------------------------------------------------
    function summaryMarker(item) {
      var marker = L.marker(item.latlng, {icon: serverClusterIcon(item.props), keyboard: false});
      marker.on("click", function () {
        map.setView(item.latlng, Math.min(map.getZoom() + 2, map.getMaxZoom()));
      });
      return marker;
    }

    function onTile(key, items) {
      dropTile(key);
      var group = L.layerGroup(items.filter(function (i) { return i.layer === "clusters"; }).map(summaryMarker));
      tiles[key] = {z: +key.split(":")[2], items: items, group: group.addTo(map)};
      queueDraw();
    }

    function dropTile(key) {
      if (tiles[key]) { map.removeLayer(tiles[key].group); delete tiles[key]; queueDraw(); }
    }

    function current() {   // the tiles of the zoom on screen
      var z = incidentTiles._tileZoom;
      return Object.keys(tiles).map(function (k) { return tiles[k]; }).filter(function (t) { return t.z === z; });
    }

    function queueDraw() {
      if (drawQueued) { return; }
      drawQueued = true;
      L.Util.requestAnimFrame(function () {
        drawQueued = false;
        var singles = [];
        current().forEach(function (t) {
          t.items.forEach(function (i) {
            if (i.layer === "incidents") {
              singles.push({type: "Feature", id: i.id, properties: i.props,
                            geometry: {type: "Point", coordinates: [i.latlng.lng, i.latlng.lat]}});
            }
          });
        });
        drawMarkers(singles);
        box.dataset.markers = String(singles.length + current().reduce(function (n, t) { return n + t.group.getLayers().length; }, 0));
      });
    }

    function viewBounds() { return map.getBounds().pad(0.25); }

    // What the tiles of the view stand for: incidents, overdue ones, and whether any is summarised.
    function summary(bounds) {
      var s = {n: 0, late: 0, summarised: false};
      current().forEach(function (t) {
        t.items.forEach(function (i) {
          if (!bounds.contains(i.latlng)) { return; }
          var cl = i.layer === "clusters";
          s.n += cl ? i.props.count : 1;
          s.late += cl ? i.props.overdue : (i.props.overdue ? 1 : 0);
          s.summarised = s.summarised || cl;
        });
      });
      return s;
    }

    function afterTiles() {
      Object.keys(tiles).forEach(function (k) { if (tiles[k].z !== incidentTiles._tileZoom) { dropTile(k); } });
      if (state.drawnAt === null) { state.drawnAt = performance.now(); box.dataset.drawn = String(Math.round(state.drawnAt)); }
      var s = summary(viewBounds());
      if (note) {
        note.hidden = !s.summarised;
        note.textContent = s.summarised ? words.summarised.replace("{n}", s.n).replace("{late}", s.late) : "";
      }
      if (s.n <= opts.listLimit) { return loadIncidents(); }
      if (pending) { pending.abort(); pending = null; }
      if (list) { list.textContent = ""; list.appendChild(el("li", "empty", words.tooMany)); }
      showCounts(s.n, s.late);
      return Promise.resolve();
    }

    function showCounts(n, late) {
      state.count = n;
      if (statusLine) { statusLine.textContent = words.open + ": " + n + " · " + words.overdue + ": " + late; }
      state.ready = true;
      box.dataset.incidents = String(n);
      box.dataset.ready = "1";
    }

    function filterQuery(withBbox) {
      var params = new URLSearchParams();
      if (form) {
        new FormData(form).forEach(function (value, key) { if (value) { params.set(key, value); } });
      }
      if (!params.get("status")) { params.set("status", "open"); }
      if (withBbox) {
        var b = viewBounds();
        params.set("bbox", [Math.max(b.getWest(), -180), Math.max(b.getSouth(), -90),
                            Math.min(b.getEast(), 180), Math.min(b.getNorth(), 90)].map(function (v) { return v.toFixed(6); }).join(","));
      }
      return params.toString();
    }

    function tileUrl() { return opts.incidentTiles + "&" + filterQuery(false) + "&t=" + stamp; }

    var incidentTiles = GridsysTiles.incidents(tileUrl(), onTile, dropTile).addTo(map);
    incidentTiles.on("load", afterTiles);
    incidentTiles.on("tilefailed", function () { if (statusLine) { statusLine.textContent = words.tileFailed; } });

    function reloadTiles() {
      stamp += 1;
      incidentTiles.setUrl(tileUrl());
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

    // The list (and exact counts) of the view: GeoJSON by bbox, asked for only when the view is small.
    function loadIncidents() {
      if (pending) { pending.abort(); }
      pending = new AbortController();
      state.fetches += 1;
      return fetch(opts.incidentsUrl + "?" + filterQuery(true), {credentials: "same-origin", signal: pending.signal})
        .then(function (r) { if (!r.ok) { throw new Error("HTTP " + r.status); } return r.json(); })
        .then(function (data) {
          renderList(data.features);
          showCounts(data.features.length, data.features.filter(function (f) { return f.properties.overdue; }).length);
        })
        .catch(function (err) { if (err.name !== "AbortError" && statusLine) { statusLine.textContent = String(err.message); } });
    }

    // --- zones -------------------------------------------------------------------------------
    function getJSON(url) {
      return fetch(url, {credentials: "same-origin"}).then(function (r) {
        if (!r.ok) { throw new Error("HTTP " + r.status); }
        return r.json();
      });
    }

    function showGaps(data) {
      if (gaps) { map.removeLayer(gaps); gaps = null; }
      if (!data) { return; }
      gaps = L.geoJSON(data, {style: {color: "#dc2626", weight: 2, dashArray: "2 4", fillColor: "#dc2626", fillOpacity: 0.25},
        onEachFeature: function (f, layer) { layer.bindTooltip(el("span", null, words.gap + " · " + f.properties.code)); }
      }).addTo(map);
    }

    function bboxParam() { return filterQuery(true).split("bbox=")[1]; }

    // The grids (and gaps) of the view as GeoJSON once it holds few of them; else the tiles alone.
    function loadZoneDetail() {
      var bounds = viewBounds();
      if (map.getZoom() < opts.gridsFromZoom || zoneTiles.gridsInView(bounds) > opts.gridDetailLimit) {
        grids.clearLayers();
        showGaps(null);
        zoneTiles.setOpacity(1);
        return Promise.resolve();
      }
      var sep = opts.gridsUrl.indexOf("?") < 0 ? "?" : "&", box_ = decodeURIComponent(bboxParam());
      var jobs = [getJSON(opts.gridsUrl + sep + "bbox=" + box_).then(function (data) {
        grids.clearLayers();
        grids.addData(data);
        zoneTiles.setOpacity(0.35);
      })];
      if (opts.gapsUrl) { jobs.push(getJSON(opts.gapsUrl + "?bbox=" + box_).then(showGaps)); }
      return Promise.all(jobs);
    }

    function loadZones() {
      if (!opts.gridsWhole) {
        if (!zoneTiles) {
          zoneTiles = GridsysTiles.zones(opts.gridTiles, opts.mode).addTo(map);
          zoneTiles.on("load", loadZoneDetail);
          zoneTiles.once("load", function () { box.dataset.zonesDrawn = String(Math.round(performance.now())); });
          return Promise.resolve();
        }
        stamp += 1;
        zoneTiles.setUrl(opts.gridTiles + "&t=" + stamp);
        return loadZoneDetail();
      }
      var jobs = [getJSON(opts.gridsUrl).then(function (data) { grids.clearLayers(); grids.addData(data); })];
      if (opts.gapsUrl) { jobs.push(getJSON(opts.gapsUrl).then(showGaps)); }
      return Promise.all(jobs);
    }

    var moveTimer = null;
    map.on("moveend", function () {
      clearTimeout(moveTimer);
      moveTimer = setTimeout(function () {
        if (!incidentTiles.isLoading()) { afterTiles(); }   // else its "load" does
        if (zoneTiles && !zoneTiles.isLoading()) { loadZoneDetail(); }
      }, 300);
    });
    if (form) { form.addEventListener("change", reloadTiles); }

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
    state.reloadIncidents = function () {
      return new Promise(function (resolve) { incidentTiles.once("load", function () { resolve(); }); reloadTiles(); });
    };
    state.tiles = incidentTiles;
    state.loaded = loadZones();
    if (opts.refreshSeconds) {
      setInterval(function () { if (!document.hidden) { reloadTiles(); } }, opts.refreshSeconds * 1000);
    }
    return state;
  }

  return {init: init};
})();
