/* Knowledge sources console: live index job progress over the websocket.
 * Each message is one job's progress; the row of its source is updated in place, and the
 * table is re-fetched (htmx) when a job finishes so counts and last-sync are fresh. */
(function () {
  "use strict";
  var box = document.getElementById("source-rows");
  if (!box) return;
  var retry = 1000;

  function fmtEta(s) {
    if (s === null || s === undefined) return "—";
    // Units and state names come translated from the page: the socket sends raw values.
    return s >= 90 ? Math.round(s / 60) + " " + box.dataset.unitMin : s + " " + box.dataset.unitS;
  }

  function update(p) {
    var row = box.querySelector('tr[data-source="' + p.source + '"]');
    if (!row) { refresh(); return; }
    var cell = row.querySelector("td.job");
    if (!cell.querySelector(".progress") || String(cell.dataset.job) !== String(p.job)) { refresh(); return; }
    cell.querySelector(".progress > span").style.width = p.percent + "%";
    var key = "state" + p.state.charAt(0).toUpperCase() + p.state.slice(1);
    cell.querySelector(".job-state").textContent = box.dataset[key] || p.state;
    cell.querySelector(".job-docs").textContent = p.docs_done + "/" + p.docs_total;
    cell.querySelector(".job-rate").textContent = p.throughput.toFixed(1);
    cell.querySelector(".job-eta").textContent = p.state === "running" ? fmtEta(p.eta_seconds) : "—";
    if (p.state !== "running" && p.state !== "queued") refresh();
  }

  var pending = null;
  function refresh() {
    if (pending || !window.htmx) return;
    pending = setTimeout(function () {
      pending = null;
      window.htmx.ajax("GET", box.dataset.refresh, { target: "#source-rows", swap: "innerHTML" });
    }, 300);
  }

  function connect() {
    var proto = location.protocol === "https:" ? "wss://" : "ws://";
    var ws = new WebSocket(proto + location.host + box.dataset.ws);
    ws.onopen = function () { retry = 1000; };
    ws.onmessage = function (e) { try { update(JSON.parse(e.data)); } catch (err) { /* ignore */ } };
    ws.onclose = function (e) {
      if (e.code === 4403) return; // not an admin any more: do not retry
      setTimeout(connect, retry);
      retry = Math.min(retry * 2, 30000);
    };
  }
  connect();
})();
