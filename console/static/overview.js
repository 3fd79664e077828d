// Draws the overview charts from the JSON the page embeds (no inline script: CSP).
(function () {
  "use strict";
  var node = document.getElementById("overview-data");
  if (!node || typeof Chart === "undefined") { return; }
  var data = JSON.parse(node.textContent);
  var common = { responsive: true, maintainAspectRatio: false, animation: false,
                 plugins: { legend: { display: false } } };
  function opts(extra) { return Object.assign({}, common, extra || {}); }
  var short = data.labels.map(function (d) { return d.slice(5); });
  // A click on a bar or point opens the conversation list with its filters.
  function go(params) {
    var query = Object.keys(params).map(function (k) {
      return encodeURIComponent(k) + "=" + encodeURIComponent(params[k]);
    }).join("&");
    window.location.assign(data.links.list + (query ? "?" + query : ""));
  }
  function clickable(toParams) {
    return {
      onClick: function (event, elements) {
        if (elements.length) { go(toParams(elements[0].index, elements[0].datasetIndex)); }
      },
      onHover: function (event, elements) {
        event.native.target.style.cursor = elements.length ? "pointer" : "default";
      }
    };
  }
  function day(i) { return { date_from: data.labels[i], date_to: data.labels[i] }; }
  var c = data.compare;

  new Chart(document.getElementById("chart-conversations"), {
    type: "bar",
    data: { labels: short, datasets: [{ label: "Conversations", data: data.conversations, backgroundColor: "#1f5fa8" }] },
    options: opts(Object.assign({ scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } },
                                clickable(day)))
  });
  new Chart(document.getElementById("chart-intents"), {
    type: "bar",
    data: { labels: data.top_intents.map(function (p) { return p[0]; }),
            datasets: [{ label: "Messages", data: data.top_intents.map(function (p) { return p[1]; }), backgroundColor: "#5a3e9b" }] },
    options: opts(Object.assign({ indexAxis: "y", scales: { x: { beginAtZero: true, ticks: { precision: 0 } } } },
                                clickable(function (i) {
                                  return { intent: data.top_intents[i][0], date_from: data.labels[0],
                                           date_to: data.labels[data.labels.length - 1] };
                                })))
  });
  new Chart(document.getElementById("chart-rates"), {
    type: "line",
    data: { labels: short, datasets: [
      { label: "Fell back %", data: data.fallback_rate, borderColor: "#9a5b00", backgroundColor: "#9a5b00", tension: 0.2 },
      { label: "Hand-off %", data: data.handoff_rate, borderColor: "#1e7a46", backgroundColor: "#1e7a46", tension: 0.2 }] },
    options: opts(Object.assign({ plugins: { legend: { display: true } }, scales: { y: { beginAtZero: true, suggestedMax: 100 } } },
                                clickable(function (i, set) {
                                  var p = day(i);
                                  p[set === 0 ? "fallback" : "handoff"] = "1";
                                  return p;
                                })))
  });
  new Chart(document.getElementById("chart-emergency"), {
    type: "bar",
    data: { labels: short, datasets: [{ label: "Emergency escalations", data: data.emergency, backgroundColor: "#b3261e" }] },
    options: opts(Object.assign({ scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } },
                                clickable(function (i) { var p = day(i); p.emergency = "1"; return p; })))
  });
  var lastRange = { date_from: data.labels[0], date_to: data.labels[data.labels.length - 1] };
  function twoPeriods(id, rows, lastDashed) {
    return new Chart(document.getElementById(id), {
      type: "bar",
      data: { labels: rows.map(function (r) { return r.name; }), datasets: [
        { label: "This period", data: rows.map(function (r) { return r["this"]; }), backgroundColor: "#1f5fa8" },
        { label: "The period before", data: rows.map(function (r) { return r.last; }), backgroundColor: "#9fb4cc",
          borderColor: "#1f5fa8", borderWidth: 1, borderDash: lastDashed ? [4, 2] : [] }] },
      options: opts(Object.assign({ plugins: { legend: { display: true } },
                                    scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } },
                                  clickable(function (i) { return rows[i].link || lastRange; })))
    });
  }
  twoPeriods("chart-channels", c.channels, true);
  twoPeriods("chart-tiers", c.tiers, true);
}());
