// Scan pages, progressive enhancement only: every form works without this file.
// - fills the hidden position fields from the phone's GPS, or says why there is none
//   (position_note: denied / unavailable / timeout / unsupported);
// - receipt: shows received − loaded live and hides the rejection fields a decision does
//   not need (the server computes the discrepancy again; this is only a preview);
// - pickup: counts scanned containers and scans them with the camera where the browser
//   has a barcode detector. No framework, no network calls.
(function () {
  "use strict";
  var $$ = function (root, sel) { return Array.prototype.slice.call(root.querySelectorAll(sel)); };

  $$(document, "form[data-geo]").forEach(function (form) {
    var note = form.querySelector("[data-gps]");
    var set = function (name, value) { var el = form.querySelector("[name=" + name + "]"); if (el) el.value = value; };
    if (!("geolocation" in navigator)) { set("position_note", "unsupported"); return; }
    // Until the phone answers, a submitted form says the position was not available.
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

  $$(document, "form[data-receipt]").forEach(function (form) {
    var unit = form.querySelector("[data-unit]");
    var gaps = function () {
      $$(form, "[data-loaded]").forEach(function (input) {
        var out = input.parentNode.querySelector("[data-gap]");
        var loaded = parseFloat(input.dataset.loaded);
        var typed = parseFloat(input.value.replace(/,/g, ""));
        if (!out) return;
        if (isNaN(loaded) || isNaN(typed)) { out.textContent = ""; return; }
        var kg = unit && unit.value === "t" ? typed * 1000 : typed;
        var gap = Math.round((kg - loaded) * 1000) / 1000;
        out.textContent = out.dataset.text + ": " + gap + " kg" + (loaded ? " (" + (gap * 100 / loaded).toFixed(2) + " %)" : "");
      });
    };
    var decisions = function () {
      $$(form, "[data-decision]").forEach(function (select) {
        $$(select.closest("fieldset"), "[data-when]").forEach(function (box) {
          box.hidden = box.dataset.when.split(" ").indexOf(select.value) === -1;
          // A hidden field is not sent: no reason recorded on a line that was accepted.
          $$(box, "input").forEach(function (input) { input.disabled = box.hidden; });
        });
      });
    };
    form.addEventListener("input", gaps);
    form.addEventListener("change", function () { gaps(); decisions(); });
    gaps();
    decisions();
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
