// Opsdesk chat: the one socket of a conversation page.
//
// Every piece of HTML inserted here was rendered and sanitized by the server (message
// blocks, "render" and "catchup" frames). Text still arriving is shown with textContent, so
// nothing a model writes is ever parsed as HTML by this script. The frames of answers being
// written are applied by answer-stream.js, shared with the scenario pages.

import { AnswerStreams, addCopyButtons as copyButtons } from "./answer-stream.js";

const root = document.getElementById("chat");
const list = document.getElementById("messages");
const form = document.getElementById("composer");
const input = document.getElementById("composer-text");
const tierSelect = document.getElementById("composer-tier");
const knowledgeBox = document.getElementById("composer-knowledge");
const btnSend = document.getElementById("btn-send");
const btnStop = document.getElementById("btn-stop");
const btnRegenerate = document.getElementById("btn-regenerate");
const notice = document.getElementById("chat-notice");
const text = (name) => root.dataset["text" + name] || name;

let conversationId = root.dataset.conversationId || "";
let socket = null;
let retries = 0;
let closedForGood = false;
let queued = [];
const streams = new AnswerStreams({
  element,
  resync: (id) => send({ type: "resync", message_id: id }),
});

function showNotice(message) {
  notice.textContent = message;
  notice.hidden = !message;
}

function element(id) {
  return document.getElementById("m-" + id);
}

function placeBlock(id, html) {
  const template = document.createElement("template");
  template.innerHTML = html.trim();
  const node = template.content.firstElementChild;
  const old = element(id);
  if (old) old.replaceWith(node);
  else list.appendChild(node);
  document.getElementById("chat-empty")?.remove();
  if (window.htmx) window.htmx.process(node);
  addCopyButtons(node);
  return node;
}

const handlers = {
  message(frame) {
    placeBlock(frame.message_id, frame.html);
    if (frame.role === "assistant") setBusy(true);
    scrollDown();
  },
  catchup(frame) {
    streams.catchup(frame);
    setBusy(true);
  },
  delta(frame) {
    streams.delta(frame);
    scrollDown();
  },
  render(frame) {
    streams.render(frame);
  },
  meta(frame) {
    const meta = element(frame.message_id)?.querySelector(".msg-meta");
    if (meta) meta.textContent = frame.model + " · " + frame.tier;
  },
  done(frame) {
    streams.finished(frame.message_id);
    placeBlock(frame.message_id, frame.html);
    setBusy(streams.size > 0);
    scrollDown();
  },
  error(frame) {
    showNotice(frame.message);
    setBusy(streams.size > 0);
  },
  ping() {
    send({ type: "pong" });
  },
};

function setBusy(busy) {
  btnStop.hidden = !busy;
  btnSend.disabled = busy;
  btnRegenerate.hidden = busy || !list.querySelector(".msg-assistant");
}

function scrollDown() {
  const nearBottom = window.innerHeight + window.scrollY >= document.body.scrollHeight - 160;
  if (nearBottom) window.scrollTo(0, document.body.scrollHeight);
}

function send(event) {
  if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(event));
  else queued.push(event);
}

function connect() {
  if (!conversationId || closedForGood) return;
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  socket = new WebSocket(`${scheme}://${location.host}/ws/chat/${conversationId}/`);
  socket.addEventListener("open", () => {
    retries = 0;
    showNotice("");
    // Anything the server had sent us before is superseded by the catch-up that follows.
    streams.reset();
    // An answer shown as streaming may have finished while we were away: ask about each
    // (the server answers with a catch-up if it still streams, or with its final block).
    for (const node of list.querySelectorAll('.msg-assistant[data-status="streaming"]')) {
      socket.send(JSON.stringify({ type: "resync", message_id: Number(node.dataset.messageId) }));
    }
    const pending = queued;
    queued = [];
    for (const event of pending) socket.send(JSON.stringify(event));
  });
  socket.addEventListener("message", (event) => {
    const frame = JSON.parse(event.data);
    const handler = handlers[frame.type];
    if (handler) handler(frame);
  });
  socket.addEventListener("close", (event) => {
    if (event.code === 4401) {
      closedForGood = true;
      showNotice(text("SignedOut"));
      setTimeout(() => location.assign(root.dataset.loginUrl + "?next=" + encodeURIComponent(location.pathname)), 1500);
      return;
    }
    if (event.code === 4404) {
      closedForGood = true;
      showNotice(text("NotFound"));
      return;
    }
    // The answer keeps being written on the server; reconnecting catches up with it.
    showNotice(text("Reconnecting"));
    retries += 1;
    setTimeout(connect, Math.min(10000, 500 * 2 ** Math.min(retries, 5)));
  });
}

async function createConversation(message) {
  const body = new FormData(form);
  body.set("text", message);
  body.set("knowledge", knowledgeBox.checked ? "on" : "off");
  const response = await fetch(root.dataset.createUrl, {
    method: "POST",
    body,
    headers: { Accept: "application/json" },
    credentials: "same-origin",
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(data.error || text("Failed"));
  conversationId = String(data.id);
  root.dataset.conversationId = conversationId;
  history.replaceState(null, "", data.url);
  if (window.htmx) {
    window.htmx.ajax("GET", data.url, { target: "#conv-list", swap: "innerHTML" });
  }
}

async function submit(event) {
  event.preventDefault();
  const message = input.value.trim();
  if (!message || btnSend.disabled) return;
  showNotice("");
  const frame = {
    type: "send",
    text: message,
    tier: tierSelect.value,
    knowledge: knowledgeBox.checked,
  };
  if (!conversationId) {
    btnSend.disabled = true;
    try {
      await createConversation(message);
    } catch (error) {
      showNotice(error.message);
      btnSend.disabled = false;
      return;
    }
    queued.push(frame);
    connect();
  } else {
    send(frame);
  }
  input.value = "";
  setBusy(true);
}

function addCopyButtons(scope) {
  copyButtons(scope, ".answer pre", { copy: text("Copy"), copied: text("Copied") });
}

form.addEventListener("submit", submit);
input.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    form.requestSubmit();
  }
});
btnStop.addEventListener("click", () => send({ type: "stop" }));
btnRegenerate.addEventListener("click", () => {
  showNotice("");
  send({ type: "regenerate", tier: tierSelect.value, knowledge: knowledgeBox.checked });
  setBusy(true);
});

addCopyButtons(list);
setBusy(list.querySelector('.msg-assistant[data-status="streaming"]') !== null);
connect();
window.scrollTo(0, document.body.scrollHeight);
