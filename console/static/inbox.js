// "Needs action": refreshes the rows every 30 s without losing what staff typed.
// A row with a focused field or an edited value (note, status, assignee, tick)
// is kept as it is; the others are replaced; the tab title shows the new count.
(function () {
  "use strict";
  var table = document.getElementById("inbox-table");
  if (!table) { return; }
  var baseTitle = document.title.replace(/^\(\d+\) /, "");
  var REFRESH_MS = parseInt(table.getAttribute("data-refresh-ms") || "30000", 10);

  function edited(row) {
    if (row.contains(document.activeElement)) { return true; }
    var fields = row.querySelectorAll("input, select, textarea");
    for (var i = 0; i < fields.length; i++) {
      var f = fields[i];
      if (f.type === "checkbox" && f.checked !== f.defaultChecked) { return true; }
      if (f.tagName === "TEXTAREA" && f.value !== f.defaultValue) { return true; }
      if (f.tagName === "SELECT") {
        for (var j = 0; j < f.options.length; j++) {
          if (f.options[j].selected !== f.options[j].defaultSelected) { return true; }
        }
      }
    }
    return false;
  }

  function setTitle(count) {
    document.title = (count > 0 ? "(" + count + ") " : "") + baseTitle;
  }

  function apply(html) {
    var doc = new DOMParser().parseFromString("<table>" + html + "</table>", "text/html");
    var fresh = doc.getElementById("inbox-rows");
    var current = document.getElementById("inbox-rows");
    if (!fresh || !current) { return; }
    // Row by row, in place: an edited or focused row is never touched, so the
    // caret, the typed note and the ticks stay.
    var wanted = {};
    var previous = null;
    Array.prototype.forEach.call(fresh.rows, function (row) {
      var key = row.id || "";
      wanted[key] = true;
      var existing = key ? document.getElementById(key) : null;
      var node;
      if (existing && edited(existing)) {
        node = existing;
      } else {
        node = document.importNode(row, true);
        if (existing) { existing.parentNode.replaceChild(node, existing); }
      }
      if (!node.parentNode || node.parentNode !== current) {
        current.insertBefore(node, previous ? previous.nextSibling : current.firstChild);
      }
      previous = node;
    });
    Array.prototype.slice.call(current.rows).forEach(function (row) {
      if (!wanted[row.id || ""] && !(row.id && edited(row))) { current.removeChild(row); }
    });
    current.setAttribute("data-new-count", fresh.getAttribute("data-new-count") || "0");
    setTitle(parseInt(fresh.getAttribute("data-new-count") || "0", 10));
  }

  function refresh() {
    fetch(table.getAttribute("data-rows-url"), { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) { if (html) { apply(html); } })
      .catch(function () { /* the next tick tries again */ });
  }
  window.setInterval(refresh, REFRESH_MS);
  table.addEventListener("inbox:refresh", refresh);
})();
