/* Cluster dashboard: redraws the charts from the points each htmx refresh brings. */
(function () {
  "use strict";

  function draw() {
    var data = document.getElementById("cluster-chart-data");
    var box = document.getElementById("cluster-charts");
    if (!data || !box) return;
    var charts = JSON.parse(data.textContent);
    box.textContent = "";
    (charts.panels || []).forEach(function (p) {
      var fig = window.OpsdeskCharts.line(box, {
        title: p.title, series: p.series, xScale: "time", unit: p.unit, emptyLabel: charts.empty
      });
      fig.setAttribute("data-panel", p.key);
    });
  }

  document.addEventListener("DOMContentLoaded", draw);
  // The live part is swapped outerHTML, so listen for any settle rather than one target.
  document.body.addEventListener("htmx:afterSettle", draw);
})();
