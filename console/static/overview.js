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

  new Chart(document.getElementById("chart-conversations"), {
    type: "bar",
    data: { labels: short, datasets: [{ label: "Conversations", data: data.conversations, backgroundColor: "#1f5fa8" }] },
    options: opts({ scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } })
  });
  new Chart(document.getElementById("chart-intents"), {
    type: "bar",
    data: { labels: data.top_intents.map(function (p) { return p[0]; }),
            datasets: [{ label: "Messages", data: data.top_intents.map(function (p) { return p[1]; }), backgroundColor: "#5a3e9b" }] },
    options: opts({ indexAxis: "y", scales: { x: { beginAtZero: true, ticks: { precision: 0 } } } })
  });
  new Chart(document.getElementById("chart-rates"), {
    type: "line",
    data: { labels: short, datasets: [
      { label: "Fell back %", data: data.fallback_rate, borderColor: "#9a5b00", backgroundColor: "#9a5b00", tension: 0.2 },
      { label: "Hand-off %", data: data.handoff_rate, borderColor: "#1e7a46", backgroundColor: "#1e7a46", tension: 0.2 }] },
    options: opts({ plugins: { legend: { display: true } }, scales: { y: { beginAtZero: true, suggestedMax: 100 } } })
  });
  new Chart(document.getElementById("chart-emergency"), {
    type: "bar",
    data: { labels: short, datasets: [{ label: "Emergency escalations", data: data.emergency, backgroundColor: "#b3261e" }] },
    options: opts({ scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } })
  });
}());
