// Manifest form helpers: waste-code search with hazard prefill, vehicle/driver filtered by
// carrier, and "add a line". The form works without this script (spare blank rows).
(function () {
  "use strict";
  var script = document.currentScript;
  var searchUrl = script && script.dataset.search;
  var form = document.getElementById("manifest-form");
  if (!form) return;
  var list = document.getElementById("waste-codes");
  var known = {};
  var timer = null;

  function search(q) {
    if (!searchUrl || q.length < 2) return;
    fetch(searchUrl + "?q=" + encodeURIComponent(q), { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : { data: [] }; })
      .then(function (body) {
        list.textContent = "";
        body.data.forEach(function (row) {
          known[row.code] = row;
          var opt = document.createElement("option");
          opt.value = row.code;
          opt.label = row.category + " " + row.description.slice(0, 60);
          list.appendChild(opt);
        });
      })
      .catch(function () { /* offline: the server validates on save */ });
  }

  function applyCode(input) {
    var row = known[input.value.trim()];
    var line = input.closest(".line");
    var desc = line.querySelector(".js-code-desc");
    if (!row) { if (desc) desc.textContent = ""; return; }
    if (desc) desc.textContent = row.category + " " + row.category_name + " · " + row.description;
    var name = line.querySelector("input[name$='-waste_name']");
    if (name && !name.value) name.value = row.description.slice(0, 200);
    line.querySelectorAll(".js-hazard").forEach(function (box) {
      box.checked = row.hazards.indexOf(box.value) !== -1;
    });
  }

  form.addEventListener("input", function (e) {
    if (!e.target.classList.contains("js-waste-code")) return;
    var input = e.target;
    clearTimeout(timer);
    timer = setTimeout(function () { search(input.value.trim()); }, 200);
    applyCode(input);
  });
  form.addEventListener("change", function (e) {
    if (e.target.classList.contains("js-waste-code")) applyCode(e.target);
  });

  var carrier = document.getElementById("f-carrier_id");
  function filterByCarrier() {
    ["f-vehicle_id", "f-driver_id"].forEach(function (id) {
      var select = document.getElementById(id);
      if (!select) return;
      select.querySelectorAll("optgroup").forEach(function (group) {
        var show = !carrier.value || group.dataset.carrier === carrier.value;
        group.hidden = !show;
        group.disabled = !show;
      });
      var chosen = select.selectedOptions[0];
      if (chosen && chosen.dataset.carrier && carrier.value && chosen.dataset.carrier !== carrier.value) {
        select.value = "";
      }
    });
  }
  if (carrier) { carrier.addEventListener("change", filterByCarrier); filterByCarrier(); }

  var addButton = document.getElementById("add-line");
  var lines = document.getElementById("lines");
  if (addButton && lines) {
    addButton.hidden = false;
    addButton.addEventListener("click", function () {
      var rows = lines.querySelectorAll(".line");
      var last = rows[rows.length - 1];
      var index = rows.length;
      var copy = last.cloneNode(true);
      copy.dataset.index = index;
      copy.querySelectorAll("[name]").forEach(function (el) {
        el.name = el.name.replace(/^lines-\d+-/, "lines-" + index + "-");
        if (el.type === "checkbox") el.checked = false;
        else if (el.tagName === "SELECT") el.selectedIndex = el.name.slice(-5) === "_unit" ? 0 : 0;
        else el.value = "";
      });
      copy.querySelectorAll("[id]").forEach(function (el) { el.id = el.id.replace(/^l\d+-/, "l" + index + "-"); });
      copy.querySelectorAll("label[for]").forEach(function (el) { el.htmlFor = el.htmlFor.replace(/^l\d+-/, "l" + index + "-"); });
      copy.querySelectorAll(".field-errors").forEach(function (el) { el.remove(); });
      copy.querySelectorAll(".has-error").forEach(function (el) { el.classList.remove("has-error"); });
      var legend = copy.querySelector("legend");
      if (legend) legend.textContent = legend.textContent.replace(/\d+/, String(index + 1));
      lines.appendChild(copy);
    });
  }
})();
