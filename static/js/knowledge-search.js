/* Unified search: stream the cited answer (Server-Sent Events) into the answer card.
 * The model's text is inserted as text nodes only; [n] markers become links to result n
 * (or straight to its document when it has a link). */
(function () {
  "use strict";
  var card = document.getElementById("answer");
  if (!card || !card.dataset.stream) return;
  var box = card.querySelector(".answer-text");
  var text = "";
  var cites = {};

  function render() {
    box.textContent = "";
    var parts = text.split(/(\[\d+\])/);
    parts.forEach(function (part) {
      var m = /^\[(\d+)\]$/.exec(part);
      if (m && cites[m[1]]) {
        var a = document.createElement("a");
        var c = cites[m[1]];
        a.href = c.link || "#hit-" + m[1];
        if (c.link) { a.target = "_blank"; a.rel = "noopener"; }
        a.title = c.title + (c.section ? " — " + c.section : "");
        a.textContent = part;
        a.className = "cite";
        box.appendChild(a);
      } else {
        box.appendChild(document.createTextNode(part));
      }
    });
  }

  function note(msg, cls) {
    var p = document.createElement("p");
    p.className = cls || "muted";
    p.textContent = msg;
    card.appendChild(p);
  }

  var es = new EventSource(card.dataset.stream);
  es.onmessage = function (e) {
    var ev = JSON.parse(e.data);
    if (ev.type === "citations") {
      ev.citations.forEach(function (c) { cites[String(c.n)] = c; });
    } else if (ev.type === "token") {
      text += ev.text;
      render();
    } else if (ev.type === "no_answer") {
      box.textContent = ev.text;
      es.close();
    } else if (ev.type === "end" || ev.type === "error") {
      if (ev.error) note(ev.error, "error");
      if (!text && !ev.error) box.textContent = "";
      es.close();
    }
  };
  es.onerror = function () { es.close(); };
})();
