// Container form: waste-code search from the catalogue in force, with the waste name and
// hazard characteristics prefilled from the chosen code. The form works without this script.
(function () {
  "use strict";
  var script = document.currentScript;
  var searchUrl = script && script.dataset.search;
  var form = document.getElementById("container-form");
  if (!form || !searchUrl) return;
  var input = form.querySelector(".js-waste-code");
  var list = document.getElementById("waste-codes");
  var desc = form.querySelector(".js-code-desc");
  var name = form.querySelector(".js-waste-name");
  var hint = desc ? desc.textContent : "";
  var known = {};
  var timer = null;
  var nameFromCode = false; // only overwrite a name we filled in ourselves
  var applied = null; // the code whose hazards were last prefilled: later edits are kept

  function search(q) {
    if (q.length < 2) return;
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
        apply();
      })
      .catch(function () { /* offline: the server validates on save */ });
  }

  function apply() {
    var row = known[input.value.trim()];
    if (!row) { if (desc) desc.textContent = hint; applied = null; return; }
    if (applied === row.code) return;
    applied = row.code;
    if (desc) desc.textContent = row.category + " " + row.category_name + " · " + row.description;
    if (name && (!name.value || nameFromCode)) {
      name.value = row.description.slice(0, 200);
      nameFromCode = true;
    }
    form.querySelectorAll(".js-hazard").forEach(function (box) {
      box.checked = row.hazards.indexOf(box.value) !== -1;
    });
  }

  if (name) name.addEventListener("input", function () { nameFromCode = false; });
  input.addEventListener("input", function () {
    clearTimeout(timer);
    var q = input.value.trim();
    timer = setTimeout(function () { search(q); }, 200);
    apply();
  });
  input.addEventListener("change", apply);
})();
