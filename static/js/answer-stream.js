// Answers being written, as the server's frames describe them (apps/inference/relay.py): the
// one implementation of the frame protocol for every page that shows answers (chat, scenario
// runs).
//
// A "catchup" sets an answer's text up to frame `seq`; a "delta" adds frame `seq` only if it
// is the next one (older ones are dropped, newer ones wait for the gap to fill, and after a
// second without it resync() is called); a "render" swaps in the server's sanitized HTML for
// the text it covers. Text not covered by HTML yet is shown with textContent, so nothing a
// model writes is ever parsed as HTML here.

export class AnswerStreams {
  // element(id): the answer's block (holding .answer-html and .tail); resync(id): ask the
  // server for a catch-up of that answer.
  constructor({ element, resync }) {
    this.element = element;
    this.resync = resync;
    this.streams = new Map();
  }

  get size() {
    return this.streams.size;
  }

  has(id) {
    return this.streams.has(id);
  }

  // A new connection: whatever was known is superseded by the catch-ups that follow.
  reset() {
    for (const [, s] of this.streams) clearTimeout(s.gapTimer);
    this.streams.clear();
  }

  streamFor(id) {
    let s = this.streams.get(id);
    if (!s) {
      s = { seq: null, text: "", chars: 0, ahead: new Map(), gapTimer: null };
      this.streams.set(id, s);
    }
    return s;
  }

  showTail(id) {
    const s = this.streams.get(id);
    const node = this.element(id);
    if (!s || !node) return;
    const tail = node.querySelector(".tail");
    if (tail) tail.textContent = s.text.slice(s.chars);
    node.querySelector(".waiting")?.remove();
  }

  drainAhead(id, s) {
    while (s.ahead.has(s.seq + 1)) {
      const next = s.ahead.get(s.seq + 1);
      s.ahead.delete(s.seq + 1);
      s.text += next.text;
      s.seq = next.seq;
    }
    for (const seq of s.ahead.keys()) if (seq <= s.seq) s.ahead.delete(seq);
    clearTimeout(s.gapTimer);
    s.gapTimer = null;
    if (s.ahead.size) {
      // A frame is missing (it fell between a catch-up and the live stream): ask again.
      s.gapTimer = setTimeout(() => this.resync(id), 1000);
    }
  }

  catchup(frame) {
    const id = frame.message_id;
    const s = this.streamFor(id);
    if (s.seq !== null && frame.seq < s.seq) return;
    s.text = frame.text;
    s.seq = frame.seq;
    s.chars = frame.chars;
    const body = this.element(id)?.querySelector(".answer-html");
    if (body) body.innerHTML = frame.html;
    this.drainAhead(id, s);
    this.showTail(id);
  }

  delta(frame) {
    const id = frame.message_id;
    const s = this.streamFor(id);
    if (s.seq === null) {
      // No baseline yet: a frame-1 start means the answer begins here.
      if (frame.seq !== 1) {
        s.ahead.set(frame.seq, frame);
        return;
      }
      s.seq = 0;
    }
    if (frame.seq <= s.seq) return; // already have it
    if (frame.seq === s.seq + 1) {
      s.text += frame.text;
      s.seq = frame.seq;
    } else {
      s.ahead.set(frame.seq, frame);
    }
    this.drainAhead(id, s);
    this.showTail(id);
  }

  render(frame) {
    const id = frame.message_id;
    const s = this.streamFor(id);
    if (s.seq === null || frame.seq > s.seq) return; // HTML for text we do not have yet
    const body = this.element(id)?.querySelector(".answer-html");
    if (!body) return;
    body.innerHTML = frame.html;
    s.chars = frame.chars;
    this.showTail(id);
  }

  // The answer is finished: its final block replaces it, so nothing is tracked any more.
  finished(id) {
    const s = this.streams.get(id);
    if (s) clearTimeout(s.gapTimer);
    this.streams.delete(id);
  }
}

// A Copy button on each <pre> matched by `selector` inside `scope` (once per block).
export function addCopyButtons(scope, selector, labels) {
  for (const pre of scope.querySelectorAll(selector)) {
    if (pre.parentElement.classList.contains("codeblock")) continue;
    const wrap = document.createElement("div");
    wrap.className = "codeblock";
    pre.replaceWith(wrap);
    wrap.appendChild(pre);
    const button = document.createElement("button");
    button.type = "button";
    button.className = "copy";
    button.textContent = labels.copy;
    wrap.appendChild(button);
  }
  for (const button of scope.querySelectorAll(".codeblock > button.copy:not([data-bound])")) {
    button.dataset.bound = "1";
    button.addEventListener("click", () => copy(button, labels));
  }
}

async function copy(button, labels) {
  const code = button.parentElement.querySelector("pre").innerText;
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
  button.textContent = labels.copied;
  setTimeout(() => (button.textContent = labels.copy), 1500);
}
