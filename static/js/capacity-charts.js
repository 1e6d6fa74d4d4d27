/* Opsdesk capacity charts: small SVG line and stacked-bar charts, no dependencies.
 *
 * window.OpsdeskCharts.line(container, {title, series: [{name, points: [[x, y], ...]}],
 *   target, xLabel, yLabel, xScale: "linear" | "log2" | "time", yMin, yMax, unit})
 * window.OpsdeskCharts.bars(container, {title, bars: [{name, total, fits, parts: [[key, v]]}],
 *   legend: {key: label}, unit})
 * Each call replaces the container's content, so live pages simply call it again.
 */
(function () {
  "use strict";
  var NS = "http://www.w3.org/2000/svg";
  var PALETTE = ["#2456d3", "#d9480f", "#2b8a3e", "#862e9c", "#c2255c", "#0b7285", "#5c940d", "#e67700"];
  var PARTS = { weights: "#2456d3", kv: "#d9480f", free: "#96c99f", reserve: "#adb5bd" };
  var W = 560, H = 260, M = { l: 56, r: 16, t: 28, b: 44 };

  function el(name, attrs, text) {
    var node = document.createElementNS(NS, name);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function niceMax(v) {
    if (!(v > 0)) return 1;
    var p = Math.pow(10, Math.floor(Math.log10(v)));
    var steps = [1, 2, 2.5, 5, 10];
    for (var i = 0; i < steps.length; i++) if (steps[i] * p >= v) return steps[i] * p;
    return 10 * p;
  }

  function fmt(v) {
    if (Number.isInteger(v) && Math.abs(v) < 1000) return String(v);
    if (Math.abs(v) >= 1000) return (v / 1000).toFixed(v >= 10000 ? 0 : 1) + "k";
    if (Math.abs(v) >= 10 || v === 0) return String(Math.round(v));
    return v.toFixed(v >= 1 ? 1 : 2);
  }

  function timeLabel(t, seconds) {
    var d = new Date(t * 1000);
    var two = function (n) { return ("0" + n).slice(-2); };
    return two(d.getHours()) + ":" + two(d.getMinutes()) + (seconds ? ":" + two(d.getSeconds()) : "");
  }

  function frame(container, title) {
    var figure = document.createElement("figure");
    figure.className = "cap-chart";
    var svg = el("svg", { viewBox: "0 0 " + W + " " + H, role: "img", "aria-label": title || "" });
    if (title) svg.appendChild(el("text", { x: M.l, y: 16, class: "cap-chart-title" }, title));
    figure.appendChild(svg);
    container.appendChild(figure);
    return { figure: figure, svg: svg };
  }

  function legend(figure, items) {
    var ul = document.createElement("ul");
    ul.className = "cap-legend";
    items.forEach(function (it) {
      var li = document.createElement("li");
      var sw = document.createElement("span");
      sw.className = "cap-swatch";
      sw.style.background = it.color;
      li.appendChild(sw);
      li.appendChild(document.createTextNode(it.label));
      ul.appendChild(li);
    });
    figure.appendChild(ul);
  }

  function line(container, o) {
    var f = frame(container, o.title);
    var svg = f.svg;
    var scale = o.xScale || "linear";
    var all = [];
    (o.series || []).forEach(function (s) { all = all.concat(s.points || []); });
    var xs = all.map(function (p) { return p[0]; });
    var ys = all.map(function (p) { return p[1]; });
    if (o.target) ys.push(o.target);
    var x0 = xs.length ? Math.min.apply(null, xs) : 0, x1 = xs.length ? Math.max.apply(null, xs) : 1;
    if (o.xMin !== undefined) x0 = o.xMin;
    if (o.xMax !== undefined) x1 = o.xMax;
    if (x1 <= x0) x1 = x0 + 1;
    var yMax = o.yMax !== undefined ? o.yMax : niceMax(ys.length ? Math.max.apply(null, ys) * 1.05 : 1);
    var yMin = o.yMin || 0;
    var tx = function (x) {
      if (scale === "log2") {
        var a = Math.log2(Math.max(x0, 1)), b = Math.log2(Math.max(x1, 2));
        return M.l + (Math.log2(Math.max(x, 1)) - a) / (b - a || 1) * (W - M.l - M.r);
      }
      return M.l + (x - x0) / (x1 - x0) * (W - M.l - M.r);
    };
    var ty = function (y) { return H - M.b - (y - yMin) / (yMax - yMin || 1) * (H - M.t - M.b); };
    svg.appendChild(el("line", { x1: M.l, y1: H - M.b, x2: W - M.r, y2: H - M.b, class: "cap-axis" }));
    svg.appendChild(el("line", { x1: M.l, y1: M.t, x2: M.l, y2: H - M.b, class: "cap-axis" }));
    for (var i = 0; i <= 4; i++) {
      var yv = yMin + (yMax - yMin) * i / 4;
      svg.appendChild(el("line", { x1: M.l, y1: ty(yv), x2: W - M.r, y2: ty(yv), class: "cap-grid" }));
      svg.appendChild(el("text", { x: M.l - 6, y: ty(yv) + 4, class: "cap-tick", "text-anchor": "end" }, fmt(yv)));
    }
    var ticks = [];
    if (scale === "log2") {
      for (var v = 1; v <= x1; v *= 2) if (v >= x0) ticks.push(v);
    } else {
      for (var j = 0; j <= 4; j++) ticks.push(x0 + (x1 - x0) * j / 4);
    }
    ticks.forEach(function (xv) {
      svg.appendChild(el("text", { x: tx(xv), y: H - M.b + 16, class: "cap-tick", "text-anchor": "middle" },
        scale === "time" ? timeLabel(xv, x1 - x0 < 600) : fmt(xv)));
    });
    if (o.xLabel) svg.appendChild(el("text", { x: (M.l + W - M.r) / 2, y: H - 8, class: "cap-label", "text-anchor": "middle" }, o.xLabel));
    if (o.yLabel) svg.appendChild(el("text", { x: 12, y: (M.t + H - M.b) / 2, class: "cap-label", "text-anchor": "middle",
      transform: "rotate(-90 12 " + (M.t + H - M.b) / 2 + ")" }, o.yLabel));
    var items = [];
    if (o.target) {
      svg.appendChild(el("line", { x1: M.l, y1: ty(o.target), x2: W - M.r, y2: ty(o.target), class: "cap-target" }));
      items.push({ label: (o.targetLabel || "target") + " " + fmt(o.target), color: "#c62f2f" });
    }
    (o.series || []).forEach(function (s, n) {
      var color = PALETTE[n % PALETTE.length];
      var pts = (s.points || []).filter(function (p) { return p[1] !== null && isFinite(p[1]); });
      items.push({ label: s.name + (pts.length ? "" : " — " + (o.emptyLabel || "no data")), color: color });
      if (!pts.length) return;
      var d = pts.map(function (p, k) { return (k ? "L" : "M") + tx(p[0]).toFixed(1) + "," + ty(Math.min(p[1], yMax)).toFixed(1); }).join(" ");
      svg.appendChild(el("path", { d: d, class: "cap-line", stroke: color, "data-series": s.name, "data-points": pts.length }));
      if (pts.length < 40) pts.forEach(function (p) {
        var dot = el("circle", { cx: tx(p[0]), cy: ty(Math.min(p[1], yMax)), r: 2.5, fill: color });
        dot.appendChild(el("title", {}, s.name + ": " + (scale === "time" ? timeLabel(p[0]) : fmt(p[0])) + " → " + fmt(p[1]) + (o.unit ? " " + o.unit : "")));
        svg.appendChild(dot);
      });
    });
    legend(f.figure, items);
    return f.figure;
  }

  function bars(container, o) {
    var f = frame(container, o.title);
    var svg = f.svg;
    var list = o.bars || [];
    var rowH = 26, top = M.t + 4;
    var height = top + list.length * rowH + 24;
    svg.setAttribute("viewBox", "0 0 " + W + " " + Math.max(height, 80));
    var max = niceMax(Math.max.apply(null, list.map(function (b) { return b.total_gb; }).concat([1])));
    var left = 170, right = W - 16;
    var sx = function (v) { return left + v / max * (right - left); };
    list.forEach(function (b, i) {
      var y = top + i * rowH;
      svg.appendChild(el("text", { x: left - 6, y: y + 15, class: "cap-tick", "text-anchor": "end" }, b.name));
      var x = left;
      b.parts.forEach(function (part) {
        var w = Math.max(sx(part[1]) - left, 0);
        var r = el("rect", { x: x, y: y + 3, width: w, height: rowH - 8, fill: PARTS[part[0]] || "#888", "data-part": part[0] });
        r.appendChild(el("title", {}, ((o.legend || {})[part[0]] || part[0]) + ": " + part[1].toFixed(1) + " GB"));
        svg.appendChild(r);
        x += w;
      });
      if (!b.fits) svg.appendChild(el("text", { x: x + 6, y: y + 15, class: "cap-tick cap-bad" }, (o.legend || {}).nofit || "does not fit"));
    });
    [0, max / 2, max].forEach(function (v, k) {
      svg.appendChild(el("text", { x: sx(v), y: height - 6, class: "cap-tick",
        "text-anchor": ["start", "middle", "end"][k] }, fmt(v) + " GB"));
    });
    legend(f.figure, ["weights", "kv", "free", "reserve"].map(function (k) {
      return { label: (o.legend || {})[k] || k, color: PARTS[k] };
    }));
    return f.figure;
  }

  window.OpsdeskCharts = { line: line, bars: bars, fmt: fmt };
})();
