/* Planner page: draws the charts of each plan htmx swaps in, and keeps the form helpful
 * (catalog price as the price placeholder, custom GPU/model fields shown when chosen). */
(function () {
  "use strict";

  function draw() {
    var data = document.getElementById("planner-chart-data");
    var box = document.getElementById("planner-charts");
    if (!data || !box) return;
    var charts = JSON.parse(data.textContent);
    var t = charts.text || {};
    box.textContent = "";
    (charts.curves || []).forEach(function (c) {
      window.OpsdeskCharts.line(box, {
        title: c.title, series: c.series, target: c.target, targetLabel: t.target,
        xLabel: t.x, yLabel: t.y, xScale: "log2", unit: "tok/s", emptyLabel: t.nofit
      });
    });
    (charts.memory || []).forEach(function (m) {
      window.OpsdeskCharts.bars(box, { title: m.title, bars: m.bars, legend: t });
    });
  }

  function syncForm() {
    var form = document.getElementById("planner-form");
    if (!form) return;
    var prices = JSON.parse((document.getElementById("gpu-prices") || {}).textContent || "{}");
    var gpu = form.querySelector("[name=gpu]");
    var price = form.querySelector("[name=gpu_price]");
    if (gpu && price) price.placeholder = prices[gpu.value] !== undefined ? prices[gpu.value] : "";
    var custom = form.querySelector(".cap-custom-gpu");
    if (gpu && custom && gpu.value === "custom") custom.open = true;
    ["fast", "heavy"].forEach(function (tier) {
      var model = form.querySelector("[name=" + tier + "_model]");
      var json = form.querySelector("[name=" + tier + "_custom]");
      if (model && json) json.closest("label").hidden = model.value !== "custom";
    });
  }

  document.addEventListener("DOMContentLoaded", function () { syncForm(); draw(); });
  document.addEventListener("change", syncForm);
  document.body.addEventListener("htmx:afterSwap", function (e) {
    if (e.detail.target && e.detail.target.id === "results") draw();
  });
})();
