// Scan pages: fill the position fields from the phone's GPS (the forms work without it and
// say why there is no position), count scanned containers, scan them with the camera where
// the browser has a barcode detector. No framework, no network calls.
(function () {
  "use strict";
  document.querySelectorAll("form[data-geo]").forEach(function (form) {
    var note = form.querySelector("[data-gps]");
    var set = function (name, value) { var el = form.querySelector("[name=" + name + "]"); if (el) el.value = value; };
    if (!("geolocation" in navigator)) { set("position_note", "unsupported"); return; }
    set("position_note", "unavailable");
    if (note) note.textContent = note.dataset.wait;
    navigator.geolocation.getCurrentPosition(function (pos) {
      set("latitude", pos.coords.latitude.toFixed(6));
      set("longitude", pos.coords.longitude.toFixed(6));
      set("accuracy_m", Math.round(pos.coords.accuracy));
      set("position_note", "");
      if (note) note.textContent = note.dataset.ok.replace("ACCURACY", Math.round(pos.coords.accuracy));
    }, function (error) {
      set("position_note", error.code === 1 ? "denied" : error.code === 3 ? "timeout" : "unavailable");
      if (note) note.textContent = error.code === 1 ? note.dataset.denied : note.dataset.none;
    }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
  });

  var area = document.querySelector("[data-scan-target]");
  var counter = document.querySelector("[data-scan-count]");
  if (!area || !counter) return;
  var expected = counter.dataset.expected.split(" ");
  var update = function () {
    var seen = area.value.toUpperCase().split(/\s+/).filter(function (c) { return expected.indexOf(c) !== -1; });
    var unique = seen.filter(function (c, i) { return seen.indexOf(c) === i; });
    counter.textContent = counter.dataset.text.replace("SEEN", unique.length).replace("EXPECTED", expected.length);
  };
  area.addEventListener("input", update);
  update();
  var button = document.querySelector("[data-scan]");
  var video = document.querySelector("[data-scan-video]");
  if (!("BarcodeDetector" in window) || !button || !video || !navigator.mediaDevices) return;
  button.hidden = false;
  button.addEventListener("click", function () {
    var detector = new window.BarcodeDetector({ formats: ["qr_code"] });
    navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } }).then(function (stream) {
      video.srcObject = stream; video.hidden = false; video.play();
      var tick = function () {
        detector.detect(video).then(function (codes) {
          codes.forEach(function (code) {
            var value = code.rawValue.split("/").pop();
            if (area.value.indexOf(value) === -1) { area.value += (area.value ? "\n" : "") + value; update(); }
          });
          if (!video.hidden) requestAnimationFrame(tick);
        });
      };
      tick();
    });
  });
})();
