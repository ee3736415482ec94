// What the phone does before anything is sent, shared by the worker's report page (report.js)
// and the resident's page (resident.js): a client UUID, and a photo shrunk to at most 1600 px
// (canvas -> JPEG, which also drops EXIF and its GPS) so a slow network carries it.
(function () {
  "use strict";
  var MAX_EDGE = 1600;

  function newUuid() {
    if (window.crypto && crypto.randomUUID) { return crypto.randomUUID(); }
    var b = crypto.getRandomValues(new Uint8Array(16));   // plain http on a LAN has no randomUUID
    b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;
    var h = Array.prototype.map.call(b, function (x) { return (x + 0x100).toString(16).slice(1); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }
  function decode(file) {
    if (window.createImageBitmap) { return createImageBitmap(file, {imageOrientation: "from-image"}); }
    return new Promise(function (resolve, reject) {
      var img = new Image(), url = URL.createObjectURL(file);
      img.onload = function () { URL.revokeObjectURL(url); resolve(img); };
      img.onerror = function () { URL.revokeObjectURL(url); reject(new Error("undecodable")); };
      img.src = url;
    });
  }
  // A Blob to send instead of ``file``: the original when it cannot be decoded here (e.g. HEIC,
  // which the server reads) or when re-encoding would not make it smaller.
  function shrink(file) {
    return decode(file).then(function (image) {
      var w = image.width, h = image.height, scale = Math.min(1, MAX_EDGE / Math.max(w, h));
      var canvas = document.createElement("canvas");
      canvas.width = Math.round(w * scale); canvas.height = Math.round(h * scale);
      canvas.getContext("2d").drawImage(image, 0, 0, canvas.width, canvas.height);
      if (image.close) { image.close(); }
      return new Promise(function (resolve) { canvas.toBlob(resolve, "image/jpeg", 0.82); })
        .then(function (blob) {
          canvas.width = canvas.height = 0;   // let a cheap phone have its memory back
          if (!blob) { throw new Error("encode"); }
          // Re-encoding drops EXIF (GPS included); keep the original only when it is smaller still.
          return (blob.size < file.size || file.type !== "image/jpeg") ? blob : file;
        });
    }).catch(function () { return file; });   // e.g. HEIC where the browser cannot decode it: the server does
  }

  window.GridsysPhone = {newUuid: newUuid, shrink: shrink, MAX_EDGE: MAX_EDGE};
})();
