// The run page: the explanation streams into #explanation over the run's socket; the findings
// above it are server-rendered and never change. Frames of the answer being written are
// applied by answer-stream.js (shared with the chat); every piece of HTML inserted here was
// rendered and sanitized by the server.

import { AnswerStreams, addCopyButtons } from "./answer-stream.js";

const live = document.getElementById("run-live");
const notice = document.getElementById("run-notice");
const runId = Number(live?.dataset.runId || 0);
const text = (name) => live.dataset["text" + name] || name;
const labels = () => ({ copy: text("Copy"), copied: text("Copied") });

let socket = null;
let retries = 0;
let closedForGood = false;
const block = () => document.getElementById("explanation");
const streams = new AnswerStreams({
  element: block,
  resync: (id) => send({ type: "resync", message_id: id }),
});

function showNotice(message) {
  notice.textContent = message;
  notice.hidden = !message;
}

function send(event) {
  if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(event));
}

function place(html) {
  const template = document.createElement("template");
  template.innerHTML = html.trim();
  const node = template.content.firstElementChild;
  block()?.replaceWith(node);
  if (window.htmx) window.htmx.process(node);
  addCopyButtons(node, ".checks .codeblock pre", labels());
  return node;
}

const handlers = {
  started(frame) {
    place(frame.html);
  },
  catchup(frame) {
    streams.catchup(frame);
  },
  delta(frame) {
    streams.delta(frame);
  },
  render(frame) {
    streams.render(frame);
  },
  meta(frame) {
    const meta = block()?.querySelector(".msg-meta");
    if (meta) meta.textContent = frame.model + (frame.tier ? " · " + frame.tier : "");
  },
  checking() {
    const meta = block()?.querySelector(".msg-meta");
    if (meta && !block().querySelector(".checking")) {
      const note = document.createElement("p");
      note.className = "muted small checking";
      note.textContent = text("Checking");
      meta.after(note);
    }
  },
  done(frame) {
    streams.finished(frame.message_id);
    place(frame.html);
  },
  error(frame) {
    showNotice(frame.message);
  },
  ping() {
    send({ type: "pong" });
  },
};

function wanted() {
  const status = block()?.dataset.status;
  return status === "pending" || status === "streaming";
}

function connect() {
  if (closedForGood || !wanted()) return;
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const share = live.dataset.share ? "?share=" + encodeURIComponent(live.dataset.share) : "";
  socket = new WebSocket(`${scheme}://${location.host}/ws/scenarios/runs/${runId}/${share}`);
  socket.addEventListener("open", () => {
    retries = 0;
    showNotice("");
    streams.reset();
    // Shown as streaming, but it may have finished while we were away: a resync answers
    // with a catch-up if it still streams, or with its final block.
    if (block()?.dataset.status === "streaming") send({ type: "resync", message_id: runId });
  });
  socket.addEventListener("message", (event) => {
    const frame = JSON.parse(event.data);
    handlers[frame.type]?.(frame);
    if (frame.type === "done" && !wanted()) {
      closedForGood = true; // nothing more will come; a new explanation reloads the page
      socket.close();
    }
  });
  socket.addEventListener("close", (event) => {
    if (closedForGood) return;
    if (event.code === 4401) {
      closedForGood = true;
      showNotice(text("SignedOut"));
      setTimeout(() => location.assign(live.dataset.loginUrl + "?next=" + encodeURIComponent(location.pathname)), 1500);
      return;
    }
    if (event.code === 4404) {
      closedForGood = true;
      showNotice(text("NotFound"));
      return;
    }
    // The explanation keeps being written on the server; reconnecting catches up with it.
    showNotice(text("Reconnecting"));
    retries += 1;
    setTimeout(connect, Math.min(10000, 500 * 2 ** Math.min(retries, 5)));
  });
}

if (live) {
  live.addEventListener("click", (event) => {
    if (event.target.closest("#btn-stop")) send({ type: "stop" });
  });
  addCopyButtons(live, ".checks .codeblock pre", labels());
  connect();
}
// A generated file that passed its checks carries a server-rendered Copy button in the facts;
// one that did not pass has none.
const facts = document.getElementById("facts");
if (facts && live) addCopyButtons(facts, ".codeblock > pre", labels());
