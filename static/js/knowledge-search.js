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

  // The answer numbers its own sources; the result showing the same chunk may sit elsewhere.
  function resultAnchor(c, n) {
    var items = document.querySelectorAll(".search-results li[data-chunk]");
    for (var i = 0; i < items.length; i++) {
      if (items[i].dataset.chunk === c.chunk) return "#" + items[i].id;
    }
    return "#hit-" + n;
  }

  function render() {
    box.textContent = "";
    var parts = text.split(/(\[\d+\])/);
    parts.forEach(function (part) {
      var m = /^\[(\d+)\]$/.exec(part);
      if (m && cites[m[1]]) {
        var a = document.createElement("a");
        var c = cites[m[1]];
        a.href = c.link || resultAnchor(c, m[1]);
        if (c.link) { a.target = "_blank"; a.rel = "noopener"; }
        a.title = c.title + (c.section ? " — " + c.section : "") + (c.version ? " · " + c.version : "");
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

  // aria-busy while the answer is written; data-outcome says how it ended.
  function finish(outcome) {
    es.close();
    card.removeAttribute("aria-busy");
    card.dataset.outcome = outcome;
  }

  card.setAttribute("aria-busy", "true");
  var es = new EventSource(card.dataset.stream);
  es.onmessage = function (e) {
    var ev = JSON.parse(e.data);
    if (ev.type === "citations") {
      ev.citations.forEach(function (c) { cites[String(c.n)] = c; });
    } else if (ev.type === "model") {
      var footer = card.querySelector(".answer-model");
      footer.textContent = ev.text;
      footer.hidden = false;
      if (ev.development) footer.classList.add("warn");
    } else if (ev.type === "token") {
      text += ev.text;
      render();
    } else if (ev.type === "no_answer") {
      box.textContent = ev.text;
      finish("no_answer");
    } else if (ev.type === "end" || ev.type === "error") {
      if (ev.error) note(ev.error, "error");
      // The echo guard withheld the answer (nothing of it was sent) or cut its end.
      if (ev.note) {
        if (ev.echo === "withheld" || ev.echo === "empty") box.textContent = "";
        note(ev.note, "notice echo-note");
        card.dataset.echo = ev.echo;
      }
      if (!text && !ev.error) box.textContent = "";
      finish(ev.type === "error" ? "error" : ev.outcome || "complete");
    }
  };
  es.onerror = function () { finish("lost"); };
})();
