// Taktline portal: small progressive enhancements; every page works without them.
"use strict";

// --- Plant pages (pages/board.py, pages/floor.py) ------------------------------------------
// Shop floor: poll the queue's stamp and reload when another user changed the queue, but
// never while someone is filling in a form (a note says so instead, until they are done).
(function () {
  var root = document.querySelector("[data-stamp-url]");
  if (!root || !window.fetch) { return; }
  var url = root.getAttribute("data-stamp-url");
  var home = root.getAttribute("data-home") || window.location.pathname;
  var stamp = root.getAttribute("data-stamp");
  var every = parseInt(root.getAttribute("data-poll-ms"), 10) || 5000;
  var note = root.querySelector("[data-stale]");
  var changed = false;

  function busy() {
    var active = document.activeElement;
    if (active && active !== document.body && active.closest && active.closest("form") &&
        /^(INPUT|TEXTAREA|SELECT)$/.test(active.tagName) && active.type !== "hidden") {
      return true;
    }
    if (root.querySelector("details[open]")) { return true; }
    var fields = root.querySelectorAll("form input, form textarea, form select");
    for (var i = 0; i < fields.length; i++) {
      var f = fields[i];
      if (f.type === "hidden" || f.type === "submit") { continue; }
      if (f.type === "checkbox" || f.type === "radio") {
        if (f.checked !== f.defaultChecked) { return true; }
      } else if (f.value !== f.defaultValue) {
        return true;
      }
    }
    return false;
  }

  function reload() {
    if (window.location.pathname === home) {
      window.location.reload();
    } else {
      // After a refused post the address is the action's: go back to the page's own.
      window.location.assign(home);
    }
  }

  function check() {
    if (document.hidden) { return; }
    if (changed) {
      if (!busy()) { reload(); }
      return;
    }
    fetch(url, { credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (response.redirected) { reload(); return null; } // signed out: the page says so
        return response.ok ? response.json() : null;
      })
      .then(function (body) {
        if (!body || body.stamp === stamp) { return; }
        changed = true;
        if (busy()) {
          if (note) { note.hidden = false; }
        } else {
          reload();
        }
      })
      .catch(function () { /* offline for a moment: try again at the next tick */ });
  }

  window.setInterval(check, every);
  document.addEventListener("visibilitychange", function () { if (!document.hidden) { check(); } });
})();

// Forms with data-confirm ask before they post (completing a work order is final).
document.addEventListener("submit", function (event) {
  var form = event.target;
  var question = form && form.getAttribute && form.getAttribute("data-confirm");
  if (question && !window.confirm(question)) { event.preventDefault(); }
});
// --- end of plant pages ---

// --- Order pages (pages/production_orders.py, pages/work_orders.py) ---------------------------
// Forms with rows (items, work orders, line items): "Add" copies the row's <template>, numbered
// after the last one; "Remove" drops its row. Without this script every form still shows one
// empty row of each kind, and empty rows are ignored.
(function () {
  function reveal(root) {
    var buttons = root.querySelectorAll("[data-add-row], [data-remove-row]");
    for (var i = 0; i < buttons.length; i++) { buttons[i].hidden = false; }
  }

  function addRow(button) {
    var box = document.getElementById(button.getAttribute("data-add-row"));
    var template = box && document.getElementById(box.getAttribute("data-template"));
    if (!template) { return; }
    var placeholder = box.getAttribute("data-placeholder");            // "__l__"
    var numberPlaceholder = placeholder.slice(0, -2) + "n__";          // "__ln__"
    var next = parseInt(box.getAttribute("data-next"), 10) || 0;
    var html = template.innerHTML.split(placeholder).join(String(next))
      .split(numberPlaceholder).join(String(next + 1));
    var outer = box.getAttribute("data-w");                            // line items of a work order
    if (outer !== null) { html = html.split("__w__").join(outer); }
    box.setAttribute("data-next", String(next + 1));
    box.insertAdjacentHTML("beforeend", html);
    var row = box.lastElementChild;
    reveal(row);
    var first = row.querySelector("input:not([type=hidden]), select, textarea");
    if (first) { first.focus(); }
  }

  function removeRow(button) {
    var row = button.closest("[data-row]");
    if (!row) { return; }
    var box = row.parentElement;
    var add = box && box.id ? document.querySelector('[data-add-row="' + box.id + '"]') : null;
    row.parentElement.removeChild(row);
    if (add) { add.focus(); }
  }

  document.addEventListener("click", function (event) {
    var target = event.target.closest && event.target.closest("[data-add-row], [data-remove-row]");
    if (!target) { return; }
    event.preventDefault();
    if (target.hasAttribute("data-add-row")) { addRow(target); } else { removeRow(target); }
  });
  reveal(document);
})();
// --- end of order pages ---
