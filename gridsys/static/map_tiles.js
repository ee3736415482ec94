// gridsys vector tile layers (/tiles/…, Mapbox Vector Tiles built by PostGIS, scoped per person).
// leaflet.vectorgrid fetches and decodes them. Zone outlines are drawn by it (SVG, not interactive:
// its events are broken with Leaflet >= 1.8, fakeStop was removed); incidents and clusters are
// handed to map.js as positions and properties, drawn there as ordinary markers (44 px tap targets,
// popups built with textContent).
// Tiles are cut in Web Mercator of WGS84 positions. On a GCJ-02 basemap the map's pixels are
// shifted, so which tiles to load, and where a tile's drawing goes, follow the WGS84 positions.
var GridsysTiles = (function () {
  "use strict";
  var MERCATOR = L.CRS.EPSG3857;

  var Wgs84Tiles = {
    _pxBoundsToTileRange: function (bounds) {
      var map = this._map, z = this._tileZoom, size = this.getTileSize();
      if (map.options.crs === MERCATOR) { return L.GridLayer.prototype._pxBoundsToTileRange.call(this, bounds); }
      var a = MERCATOR.latLngToPoint(map.unproject(bounds.min, z), z);
      var b = MERCATOR.latLngToPoint(map.unproject(bounds.max, z), z);
      return new L.Bounds(a.unscaleBy(size).floor(), b.unscaleBy(size).ceil().subtract([1, 1]));
    },
    _getTilePos: function (coords) {
      var pos = L.GridLayer.prototype._getTilePos.call(this, coords), map = this._map;
      if (map.options.crs === MERCATOR) { return pos; }
      var corner = coords.scaleBy(this.getTileSize());
      return pos.add(map.project(MERCATOR.pointToLatLng(corner, coords.z), coords.z).subtract(corner)).round();
    },
    // The WGS84 bounds of a tile (for "which tiles lie in the view").
    wgs84Bounds: function (coords) {
      var size = this.getTileSize(), nw = coords.scaleBy(size);
      return L.latLngBounds(MERCATOR.pointToLatLng(nw, coords.z), MERCATOR.pointToLatLng(nw.add(size), coords.z));
    },
    coordsOf: function (key) {
      var p = key.split(":");
      var c = L.point(+p[0], +p[1]);
      c.z = +p[2];
      return c;
    }
  };

  function refused(vt) { return Array.isArray(vt.layers); }   // VectorGrid's answer to a non-2xx response

  // Incidents: each tile's features are given to ``onTile(key, items)`` (items: {layer, id, props,
  // latlng}); ``onDrop(key)`` when the tile leaves. A new URL (filters, refresh) keeps the tiles on
  // screen until their successors arrive, so a refresh does not blink.
  var IncidentTiles = L.VectorGrid.Protobuf.extend({
    includes: Wgs84Tiles,

    initialize: function (url, options, onTile, onDrop) {
      L.VectorGrid.Protobuf.prototype.initialize.call(this, url, options);
      this._onTile = onTile;
      this._onDrop = onDrop;
      this._generation = 0;
      this._stale = [];
      this.failed = 0;
      this.on("tileunload", function (e) {
        var key = this._tileCoordsToKey(e.coords);
        if (this._replacing) { this._stale.push(key); } else { this._onDrop(key); }
      }, this);
      this.on("load", this._dropStale, this);
    },

    setUrl: function (url) {
      this._generation += 1;
      this._replacing = true;
      L.VectorGrid.Protobuf.prototype.setUrl.call(this, url);
      this._replacing = false;
      return this;
    },

    _dropStale: function () {
      var keep = this._tiles, drop = this._onDrop;
      this._stale.splice(0).forEach(function (key) { if (!keep[key]) { drop(key, true); } });
    },

    createTile: function (coords, done) {
      var tile = document.createElement("div"), self = this, generation = this._generation;
      var key = this._tileCoordsToKey(coords);
      this._getVectorTilePromise(coords).then(function (vt) {
        if (generation !== self._generation || !self._map) { return; }
        if (refused(vt)) { throw new Error("tile " + key); }
        var items = [];
        ["clusters", "incidents"].forEach(function (name) {
          var layer = vt.layers[name];
          if (!layer) { return; }
          var scale = self.getTileSize().x / layer.extent;
          layer.features.forEach(function (f) {
            var p = f.geometry[0][0];
            var px = L.point(coords.x * self.getTileSize().x + p.x * scale, coords.y * self.getTileSize().y + p.y * scale);
            items.push({layer: name, id: f.id, props: f.properties, latlng: MERCATOR.pointToLatLng(px, coords.z)});
          });
        });
        self._onTile(key, items);
        done(null, tile);
      }).catch(function (err) {
        if (generation !== self._generation) { return; }
        self.failed += 1;
        self.fire("tilefailed", {error: err});
        done(err, tile);
      });
      return tile;
    }
  });

  // Zone outlines by zoom (towns, areas, grids: gridsys/map/tiles.py); ``gridsInView`` counts the
  // grids of the loaded tiles that meet ``bounds``.
  var ZoneTiles = L.VectorGrid.Protobuf.extend({
    includes: Wgs84Tiles,

    gridsInView: function (bounds) {
      var seen = {}, n = 0;
      for (var key in this._vectorTiles) {
        var coords = this.coordsOf(key);
        if (coords.z !== this._tileZoom || !this.wgs84Bounds(coords).intersects(bounds)) { continue; }
        var features = this._vectorTiles[key]._features;
        for (var id in features) {
          if (features[id].layerName === "grids" && !seen[id]) { seen[id] = true; n += 1; }
        }
      }
      return n;
    }
  });

  function fill(open) { return open === 0 ? "#e2e8f0" : open <= 2 ? "#fde68a" : open <= 5 ? "#fb923c" : "#dc2626"; }

  function zoneStyles(mode) {
    return {
      towns: {color: "#0f172a", weight: 2.5, fill: false},
      areas: {color: "#1e3a8a", weight: 2, fill: false, dashArray: "8 4"},
      grids: function (p) {
        var style = {color: "#3b5bdb", weight: 1, fill: true, fillColor: fill(p.open || 0),
                     fillOpacity: mode === "worker" ? 0.15 : 0.35};
        if (mode === "admin" && p.missing > 0) { style.color = "#c2410c"; style.weight = 2; style.dashArray = "6 4"; }
        return style;
      }
    };
  }

  function incidents(url, onTile, onDrop) {
    return new IncidentTiles(url, {fetchOptions: {credentials: "same-origin"}, pane: "gsTiles", zIndex: 5,
                                   maxNativeZoom: 22, keepBuffer: 1}, onTile, onDrop);
  }

  function zones(url, mode) {
    return new ZoneTiles(url, {fetchOptions: {credentials: "same-origin"}, vectorTileLayerStyles: zoneStyles(mode),
                               getFeatureId: function (f) { return f.properties.code; },
                               pane: "gsZones", zIndex: 2, maxNativeZoom: 22});
  }

  return {incidents: incidents, zones: zones};
})();
