"""The echo guard: prompt scaffolding is never shown as an answer.

A weak model (the dev gemma-3-270m through a chat template) often answers with its own
prompt: the rules ("You are Opsdesk, an assistant…"), a `<<<SOURCE 1>>>` delimiter, or the
question repeated five times. The guard reads the answer as it streams and decides:

- "" (the answer is shown as written);
- "withheld": the answer opens with an echo; nothing of it is shown, the caller shows NOTE
  instead (the sources are still listed under it);
- "cut": the answer began well and later turned into an echo; what was shown stays and the
  rest is dropped (CUT_NOTE);
- "empty": the model wrote nothing but blanks; the caller shows NOTE as for "withheld".

Three signs of an echo:

1. The scaffold: any phrase of the prompt's own wording (Prompt.scaffold: the rules, the
   headings, the delimiters), anywhere in the answer, case and spacing aside.
2. A copy of the prompt's frame: most of the answer's opening is word-for-word the prompt
   outside the quoted material (the question, the rules, the source headers, the earlier
   turns). The quoted material itself (Prompt.quoted: the sources' text, a scenario's data)
   does not count: a base model often answers by copying the steps of the right runbook
   section, which is a usable answer with its source listed under it, not an echo.
3. A role: the answer opens the way the rules do, by telling someone who they are ("You are
   Opscreeper/Opsdesk, a team of experts…", "You are a senior operations engineer."). The
   dev model varies the identity line rather than copying it, so neither sign above finds
   it; an answer to an engineer opens that way only as "You are seeing…", "You are right",
   which ROLE leaves alone (a verb or an adjective, not a name or an article).

Nothing is released before it is judged: the first RELEASE_WORDS words wait, and text goes
out only while the opening so far is not mostly the prompt's frame (the verdict on the
opening falls at OPENING_WORDS words); the last HOLD_CHARS characters always wait, so that a
scaffold phrase is recognised before any of it reaches a reader. A reader thus never sees an
echo appear and then vanish (an echo starts with the answer: the question or the rules); they
wait a fraction of a second longer for the first words.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from django.utils.translation import gettext_noop

from apps.inference.prompts import Prompt

NOTE = gettext_noop("The model gave no usable answer; the sources are below.")
NOTE_NO_SOURCES = gettext_noop("The model gave no usable answer.")
CUT_NOTE = gettext_noop("The rest of the model's answer repeated its instructions and was cut.")

WITHHELD = "withheld"
CUT = "cut"
EMPTY = "empty"
VERDICTS = ("", CUT, WITHHELD, EMPTY)
NO_ANSWER = (WITHHELD, EMPTY)  # nothing of the answer is shown: the note stands instead

# The copy test reads the answer's first OPENING_WORDS words (or all of a shorter answer);
# nothing is shown before RELEASE_WORDS words.
OPENING_WORDS = 30
RELEASE_WORDS = 10
# Word n-grams compared with the prompt's.
GRAM = 4
# An opening whose words are this share or more of the prompt's frame (question, rules,
# headers, turns) repeats the prompt rather than answering it.
FRAME_SHARE = 0.5
# A scaffold phrase is recognised by its first KEY_WORDS words (a phrase cut short by the
# length limit still counts); the last HOLD_CHARS characters wait until then.
KEY_WORDS = 5
HOLD_CHARS = 40
# Fewer own words than this before an echo: nothing usable was said, the answer is withheld.
USABLE_WORDS = 4
# An echo after fewer words shown than this withholds the whole answer (the page replaces the
# few words shown by the note); after more, the answer is cut there.
BEGUN_WORDS = 8

_WORD = re.compile(r"\w+", re.UNICODE)
# "You are" + an article or a capitalised name; "Ты —" / "Вы —" in Russian.
ROLE = re.compile(r"\W*(?:(?i:you\s+are)\s+(?:(?i:an?|the)\b|[A-Z])|(?:Ты|Вы)\s+[—–-]\s)")


def _words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


def _grams(words: Sequence[str]) -> set[tuple[str, ...]]:
    return {tuple(words[i : i + GRAM]) for i in range(len(words) - GRAM + 1)}


def _covered(words: Sequence[str], grams: set[tuple[str, ...]]) -> float:
    """The share of `words` inside an n-gram that also occurs in `grams`."""
    if not words:
        return 0.0
    if len(words) < GRAM:
        return 0.0
    hit = [False] * len(words)
    for i in range(len(words) - GRAM + 1):
        if tuple(words[i : i + GRAM]) in grams:
            for j in range(i, i + GRAM):
                hit[j] = True
    return sum(hit) / len(words)


def _key_pattern(phrases: Iterable[str]) -> re.Pattern[str] | None:
    """One regex that finds any scaffold phrase by its opening words (or a delimiter by its
    literal text), with any spacing and case."""
    parts = []
    for phrase in phrases:
        phrase = phrase.strip()
        if not phrase:
            continue
        if not any(ch.isalnum() for ch in phrase[:3]):
            # A delimiter such as "<<<SOURCE": its own characters, spaces between allowed.
            tokens = re.findall(r"\w+|[^\w\s]", phrase)
        else:
            tokens = phrase.split()[:KEY_WORDS]
        parts.append(r"\s*".join(re.escape(t) for t in tokens))
    if not parts:
        return None
    parts.sort(key=len, reverse=True)
    return re.compile("|".join(parts), re.IGNORECASE)


def _prompt_text(prompt: Prompt) -> str:
    return "\n".join(m.get("content", "") for m in prompt.messages) + "\n" + prompt.completion


def _frame_text(prompt: Prompt) -> str:
    """The prompt without the quoted material: what an answer has no reason to repeat."""
    text = _prompt_text(prompt)
    for quoted in sorted(prompt.quoted, key=len, reverse=True):
        if quoted.strip():
            text = text.replace(quoted, "\n")
    return text


@dataclass
class Judge:
    """The copy test and the scaffold patterns of one prompt, built once per answer."""

    keys: re.Pattern[str] | None
    frame: set[tuple[str, ...]]

    @classmethod
    def of(cls, prompt: Prompt) -> Judge:
        return cls(
            keys=_key_pattern(prompt.scaffold),
            frame=_grams(_words(_frame_text(prompt))),
        )

    def scaffold_at(self, text: str, start: int = 0) -> int:
        """Where the first scaffold phrase begins in text[start:], or -1."""
        if self.keys is None:
            return -1
        found = self.keys.search(text, start)
        return found.start() if found else -1

    def copies(self, text: str) -> bool:
        """Whether this opening repeats the prompt instead of answering it."""
        if ROLE.match(text):
            return True
        return _covered(_words(text)[:OPENING_WORDS], self.frame) >= FRAME_SHARE


def verdict(prompt: Prompt, text: str) -> str:
    """The verdict on a whole answer at once (what the streaming guard decides, too)."""
    guard = EchoGuard(prompt)
    guard.feed(text)
    guard.finish()
    return guard.verdict


@dataclass
class EchoGuard:
    """Judges one streaming answer: feed() each piece, then finish(); each returns the text
    that may be shown now. Once `verdict` is set, nothing more is released (`done`)."""

    prompt: Prompt
    text: str = ""
    released: int = 0  # characters of `text` shown
    judged: bool = False  # the opening passed the copy test
    verdict: str = ""
    judge: Judge = field(init=False)

    def __post_init__(self) -> None:
        self.judge = Judge.of(self.prompt)

    @property
    def done(self) -> bool:
        return bool(self.verdict)

    def feed(self, piece: str) -> str:
        if self.done:
            return ""
        self.text += piece
        return self._release(final=False)

    def finish(self) -> str:
        if self.done:
            return ""
        return self._release(final=True)

    def _release(self, final: bool) -> str:
        at = self.judge.scaffold_at(self.text, max(0, self.released - HOLD_CHARS))
        if not self.judged and at < 0:
            words = len(_words(self.text))
            copies = self.judge.copies(self.text)
            if final or words > OPENING_WORDS:
                if copies:
                    # Shown so far: the start of an opening that turned into a copy.
                    shown = len(_words(self.text[: self.released]))
                    self.verdict = CUT if shown >= USABLE_WORDS else WITHHELD
                    return ""
                self.judged = True
            elif words < RELEASE_WORDS or copies:
                return ""  # not enough to tell yet, or so far it reads like the prompt
        if at >= 0:
            own = len(_words(self.text[:at]))
            # Only an answer already under way is cut: an opening that runs into the rules
            # ("You are a senior operations engineer.\nAnswer ONLY from…") is no answer.
            begun = self.judged or len(_words(self.text[: self.released])) >= BEGUN_WORDS
            copied = not self.judged and self.judge.copies(self.text[:at])
            self.verdict = CUT if begun and own >= USABLE_WORDS and not copied else WITHHELD
            if self.verdict == WITHHELD:
                return ""
            # What was shown stays; of the held-back text, only what precedes the echo.
            out = self.text[self.released : at] if at > self.released else ""
            self.released = max(self.released, at)
            return out
        if final and not self.released and not _words(self.text):
            self.verdict = EMPTY
            return ""
        end = len(self.text) if final else max(self.released, len(self.text) - HOLD_CHARS)
        out = self.text[self.released : end]
        self.released = end
        return out
