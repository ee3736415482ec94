// WGS84 <-> GCJ-02 for basemaps drawn in GCJ-02 (Gaode, Tencent), and L.CRS.GCJ02: Web Mercator
// of the GCJ-02 position. Every marker, GeoJSON layer, click and drawn shape keeps WGS84 lat/lng
// (what is stored); only where it is drawn moves, onto the streets of those tiles.
// The published formula with the constants and China box of gridsys/geo.py, so both agree.
var GridsysGCJ02 = (function () {
  "use strict";
  var A = 6378245.0, EE = 0.00669342162296594323, PI = Math.PI;

  function outsideChina(lng, lat) {
    return !(lng >= 72.004 && lng <= 137.8347 && lat >= 0.8293 && lat <= 55.8271);
  }

  function offset(lng, lat) {
    var x = lng - 105.0, y = lat - 35.0;
    var common = (20.0 * Math.sin(6.0 * x * PI) + 20.0 * Math.sin(2.0 * x * PI)) * 2.0 / 3.0;
    var dLat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * Math.sqrt(Math.abs(x)) + common
      + (20.0 * Math.sin(y * PI) + 40.0 * Math.sin(y / 3.0 * PI)) * 2.0 / 3.0
      + (160.0 * Math.sin(y / 12.0 * PI) + 320.0 * Math.sin(y * PI / 30.0)) * 2.0 / 3.0;
    var dLng = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * Math.sqrt(Math.abs(x)) + common
      + (20.0 * Math.sin(x * PI) + 40.0 * Math.sin(x / 3.0 * PI)) * 2.0 / 3.0
      + (150.0 * Math.sin(x / 12.0 * PI) + 300.0 * Math.sin(x / 30.0 * PI)) * 2.0 / 3.0;
    var rad = lat / 180.0 * PI, magic = 1 - EE * Math.pow(Math.sin(rad), 2);
    return [dLng * 180.0 / (A / Math.sqrt(magic) * Math.cos(rad) * PI),
            dLat * 180.0 / (A * (1 - EE) / (magic * Math.sqrt(magic)) * PI)];
  }

  // [lng, lat] in, [lng, lat] out; positions outside China are unchanged.
  function fromWgs84(lng, lat) {
    if (outsideChina(lng, lat)) { return [lng, lat]; }
    var d = offset(lng, lat);
    return [lng + d[0], lat + d[1]];
  }

  // The inverse by fixed-point iteration: a round trip agrees to well under a millimetre.
  function toWgs84(lng, lat) {
    if (outsideChina(lng, lat)) { return [lng, lat]; }
    var w = [lng, lat];
    for (var i = 0; i < 30; i++) {
      var g = fromWgs84(w[0], w[1]);
      if (Math.abs(g[0] - lng) < 1e-10 && Math.abs(g[1] - lat) < 1e-10) { break; }
      w = [w[0] + (lng - g[0]), w[1] + (lat - g[1])];
    }
    return w;
  }

  if (window.L) {
    var mercator = L.Projection.SphericalMercator;
    L.CRS.GCJ02 = L.extend({}, L.CRS.EPSG3857, {
      code: "GCJ02",  // not EPSG:3857: a WMS layer would ask for the wrong place
      projection: {
        bounds: mercator.bounds,
        project: function (latlng) {
          var g = fromWgs84(latlng.lng, latlng.lat);
          return mercator.project(L.latLng(g[1], g[0]));
        },
        unproject: function (point) {
          var g = mercator.unproject(point), w = toWgs84(g.lng, g.lat);
          return L.latLng(w[1], w[0]);
        }
      }
    });
  }

  return {fromWgs84: fromWgs84, toWgs84: toWgs84};
})();
