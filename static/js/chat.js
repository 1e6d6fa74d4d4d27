// Opsdesk chat: the one socket of a conversation page.
//
// Every piece of HTML inserted here was rendered and sanitized by the server (message
// blocks, "render" and "catchup" frames). Text still arriving is shown with textContent, so
// nothing a model writes is ever parsed as HTML by this script.

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
// Per answer being written: the text so far, the last frame number applied, how much of the
// text the last server-rendered HTML covers, and frames that arrived ahead of a gap.
const streams = new Map();

function showNotice(message) {
  notice.textContent = message;
  notice.hidden = !message;
}

function streamFor(id) {
  let s = streams.get(id);
  if (!s) {
    s = { seq: null, text: "", chars: 0, ahead: new Map(), gapTimer: null };
    streams.set(id, s);
  }
  return s;
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

function showTail(id) {
  const s = streams.get(id);
  const node = element(id);
  if (!s || !node) return;
  const tail = node.querySelector(".tail");
  if (tail) tail.textContent = s.text.slice(s.chars);
  node.querySelector(".waiting")?.remove();
}

function applyDelta(id, s, frame) {
  s.text += frame.text;
  s.seq = frame.seq;
}

function drainAhead(id, s) {
  while (s.ahead.has(s.seq + 1)) {
    const next = s.ahead.get(s.seq + 1);
    s.ahead.delete(s.seq + 1);
    applyDelta(id, s, next);
  }
  for (const seq of s.ahead.keys()) if (seq <= s.seq) s.ahead.delete(seq);
  clearTimeout(s.gapTimer);
  s.gapTimer = null;
  if (s.ahead.size) {
    // A frame is missing (it fell between a catch-up and the live stream): ask again.
    s.gapTimer = setTimeout(() => send({ type: "resync", message_id: id }), 1000);
  }
}

const handlers = {
  message(frame) {
    placeBlock(frame.message_id, frame.html);
    if (frame.role === "assistant") setBusy(true);
    scrollDown();
  },
  catchup(frame) {
    const s = streamFor(frame.message_id);
    if (s.seq !== null && frame.seq < s.seq) return;
    s.text = frame.text;
    s.seq = frame.seq;
    s.chars = frame.chars;
    const node = element(frame.message_id);
    const body = node?.querySelector(".answer-html");
    if (body) body.innerHTML = frame.html;
    drainAhead(frame.message_id, s);
    showTail(frame.message_id);
    setBusy(true);
  },
  delta(frame) {
    const s = streamFor(frame.message_id);
    if (s.seq === null) {
      // No baseline yet: a frame-0 start means the answer begins here.
      if (frame.seq !== 1) {
        s.ahead.set(frame.seq, frame);
        return;
      }
      s.seq = 0;
    }
    if (frame.seq <= s.seq) return; // already have it
    if (frame.seq === s.seq + 1) applyDelta(frame.message_id, s, frame);
    else s.ahead.set(frame.seq, frame);
    drainAhead(frame.message_id, s);
    showTail(frame.message_id);
    scrollDown();
  },
  render(frame) {
    const s = streamFor(frame.message_id);
    if (s.seq === null || frame.seq > s.seq) return; // HTML for text we do not have yet
    const body = element(frame.message_id)?.querySelector(".answer-html");
    if (!body) return;
    body.innerHTML = frame.html;
    s.chars = frame.chars;
    showTail(frame.message_id);
  },
  meta(frame) {
    const meta = element(frame.message_id)?.querySelector(".msg-meta");
    if (meta) meta.textContent = frame.model + " · " + frame.tier;
  },
  done(frame) {
    const s = streams.get(frame.message_id);
    if (s) clearTimeout(s.gapTimer);
    streams.delete(frame.message_id);
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
    for (const [, s] of streams) clearTimeout(s.gapTimer);
    streams.clear();
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
  for (const pre of scope.querySelectorAll(".answer pre")) {
    if (pre.parentElement.classList.contains("codeblock")) continue;
    const wrap = document.createElement("div");
    wrap.className = "codeblock";
    pre.replaceWith(wrap);
    wrap.appendChild(pre);
    const button = document.createElement("button");
    button.type = "button";
    button.className = "copy";
    button.textContent = text("Copy");
    button.addEventListener("click", async () => {
      const code = pre.innerText;
      try {
        await navigator.clipboard.writeText(code);
      } catch {
        const area = document.createElement("textarea");
        area.value = code;
        document.body.appendChild(area);
        area.select();
        document.execCommand("copy");
        area.remove();
      }
      button.textContent = text("Copied");
      setTimeout(() => (button.textContent = text("Copy")), 1500);
    });
    wrap.appendChild(button);
  }
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
