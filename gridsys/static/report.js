// The report page: set the location from the phone or a tap, show the worker's grids.
(function () {
  "use strict";
  var script = document.currentScript;
  var box = document.getElementById("report-map");
  var map = window[box.dataset.map];
  var lon = document.getElementById("lon"), lat = document.getElementById("lat");
  var whereText = document.getElementById("where-text");
  var marker = null;

  function place(latlng, pan) {
    lat.value = latlng.lat.toFixed(7);
    lon.value = latlng.lng.toFixed(7);
    if (marker) { marker.setLatLng(latlng); }
    else {
      marker = L.marker(latlng, {draggable: true, autoPan: true}).addTo(map);
      marker.on("dragend", function () { place(marker.getLatLng(), false); });
    }
    if (pan) { map.setView(latlng, Math.max(map.getZoom(), 16)); }
    whereText.textContent = script.dataset.located.replace("{lat}", lat.value).replace("{lon}", lon.value);
  }

  map.on("click", function (e) { place(e.latlng, false); });

  fetch(script.dataset.gridsUrl, {credentials: "same-origin"})
    .then(function (r) { return r.ok ? r.json() : null; })
    .then(function (data) {
      if (!data || !data.features.length) { return; }
      var layer = L.geoJSON(data, {
        style: {color: "#1d4ed8", weight: 2, fillOpacity: 0.05},
        onEachFeature: function (f, l) { l.bindTooltip(document.createTextNode(f.properties.name)); }  // text, never HTML
      }).addTo(map);
      layer.eachLayer(function (l) { l.on("click", function (e) { place(e.latlng, false); }); });
      if (!lat.value) { map.fitBounds(layer.getBounds()); }
    });

  function locate() {
    if (!navigator.geolocation) { whereText.textContent = script.dataset.noGps; return; }
    navigator.geolocation.getCurrentPosition(
      function (p) { place(L.latLng(p.coords.latitude, p.coords.longitude), true); },
      function () { whereText.textContent = script.dataset.noGps; },
      {enableHighAccuracy: true, timeout: 10000, maximumAge: 60000});
  }
  document.getElementById("locate-me").addEventListener("click", locate);
  if (lat.value && lon.value) { place(L.latLng(+lat.value, +lon.value), true); }
  else if (window.isSecureContext) { locate(); }

  document.getElementById("report-form").addEventListener("submit", function (e) {
    if (!lat.value || !lon.value) {
      e.preventDefault();
      whereText.textContent = script.dataset.noGps;
      box.scrollIntoView({behavior: "smooth"});
      return;
    }
    document.getElementById("send").disabled = true;  // the client UUID makes a resend harmless anyway
  });
})();
