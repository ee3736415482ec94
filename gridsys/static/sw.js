/* gridsys service worker (Workbox): the field app opens with no network.
 *
 * self.GRIDSYS is prepended by the app's /sw.js route: {version, shell, assets, workbox, api}.
 * What it keeps: the app shell (the report page with nothing personal in it) and the scripts and
 * styles it loads (precached, per version), the category catalogue and the worker's grid outlines
 * (last answer kept). Reports are NOT kept here: they wait in IndexedDB (report.js), so a new
 * version of this worker can take over at once without losing any.
 */
/* global workbox, importScripts */
"use strict";
importScripts.apply(self, self.GRIDSYS.workbox);

(function (G) {
  var precaching = workbox.precaching, routing = workbox.routing, strategies = workbox.strategies;
  var ExpirationPlugin = workbox.expiration.ExpirationPlugin;
  var REPORT_PATH = new URL(G.shell, self.location).pathname.replace(/\/shell$/, "");

  workbox.core.setCacheNameDetails({prefix: "gridsys"});
  self.addEventListener("install", function () { self.skipWaiting(); });
  workbox.core.clientsClaim();
  precaching.cleanupOutdatedCaches();
  // A versioned name (?v=<content hash>) is its own revision: fetched as is, the browser's HTTP
  // cache may answer; the rest (shell, manifest, images) are revised with the app's version.
  precaching.precacheAndRoute([G.shell].concat(G.assets).map(function (url) {
    return {url: url, revision: /[?&]v=/.test(url) ? null : G.version};
  }), {ignoreURLParametersMatching: [/^__WB_REVISION__$/], cleanURLs: false, directoryIndex: null});

  function shell() {
    return precaching.matchPrecache(G.shell).then(function (r) { return r || Response.error(); });
  }

  // Pages come from the network (they are personal); with no network, the report shell answers.
  var reportPage = new strategies.NetworkOnly({networkTimeoutSeconds: 5});
  var otherPages = new strategies.NetworkOnly();
  routing.registerRoute(function (o) { return o.request.mode === "navigate"; }, function (options) {
    var strategy = options.url.pathname === REPORT_PATH ? reportPage : otherPages;
    return strategy.handle(options).catch(shell);
  });

  // The catalogue and the grid outlines: the network's answer when it comes, else the last one
  // kept. Only the app's own JSON is kept (not a captive portal's page answering 200).
  var appJsonOnly = {cacheWillUpdate: function (o) {
    var r = o.response;
    return r && r.status === 200 && !r.redirected && /json/.test(r.headers.get("Content-Type") || "") ? r : null;
  }};
  var apiPaths = G.api.map(function (u) { return new URL(u, self.location).pathname; });
  routing.registerRoute(function (o) {
    return o.request.method === "GET" && apiPaths.indexOf(o.url.pathname) >= 0;
  }, new strategies.NetworkFirst({cacheName: "gridsys-api", networkTimeoutSeconds: 4,
                                   plugins: [appJsonOnly, new ExpirationPlugin({maxEntries: 20})]}));

  // Other pages' scripts and styles (versioned names): from the cache, refreshed in the background.
  routing.registerRoute(function (o) {
    return o.request.method === "GET" && o.sameOrigin && /^\/(static|vendor)\//.test(o.url.pathname);
  }, new strategies.StaleWhileRevalidate({cacheName: "gridsys-assets",
                                          plugins: [new ExpirationPlugin({maxEntries: 80})]}));

  self.addEventListener("message", function (event) {
    if (event.data && event.data.type === "version" && event.ports[0]) {
      event.ports[0].postMessage({version: G.version});
    }
  });
})(self.GRIDSYS);
