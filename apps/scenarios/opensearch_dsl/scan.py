"""A question being read: each recognizer takes the words it understands, so no two read the
same words and what is left at the end is what nobody understood."""

from __future__ import annotations

import re
from collections.abc import Iterator

# Words that carry no meaning of their own in a log question (RU and EN).
STOP_WORDS = frozenset(
    """
    a an the all any of for in on at to from by with and or me my our show find give get list
    display return fetch search look see need want please which what where who that those these
    there are is was were be been have has had do does did it its logs log entries entry events
    event records record messages message lines line documents document hits results items
    only just also some about requests request responses calls
    запросы запросов запрос запросам ответы ответов вызовы вызовов
    и или в во на с со по за из к ко от до у о об про для все всё всех весь вся мне нам нас
    покажи покажите показать найди найдите найти выведи выведите вывести дай дайте нужны нужно
    надо хочу какие какой какая каких где что которые который которых была были было есть
    логи логов лог записи записей запись событий события событие сообщения сообщений строки
    строк документы документов только тоже также просто это этот эти пожалуйста ли же бы
    """.split()  # noqa: SIM905  (a word list reads best as text)
)


class Scan:
    """The question, lower-cased without changing offsets, and which characters are taken."""

    def __init__(self, text: str) -> None:
        self.text = text
        # One character in, one out: offsets in `low` are offsets in `text`.
        self.low = "".join(c.lower() if len(c.lower()) == 1 else c for c in text)
        self.taken = [False] * len(text)

    def free(self, start: int, end: int) -> bool:
        return not any(self.taken[start:end])

    def take(self, start: int, end: int) -> None:
        for i in range(start, end):
            self.taken[i] = True

    def find(self, pattern: str | re.Pattern[str], flags: int = 0) -> Iterator[re.Match[str]]:
        """Matches in the lower-cased text that touch no taken character."""
        regex = re.compile(pattern, flags) if isinstance(pattern, str) else pattern
        for m in regex.finditer(self.low):
            if m.end() > m.start() and self.free(m.start(), m.end()):
                yield m

    def find_original(self, pattern: str) -> Iterator[re.Match[str]]:
        """Matches in the text as written (case matters: GET the method, not the verb)."""
        for m in re.finditer(pattern, self.text):
            if m.end() > m.start() and self.free(m.start(), m.end()):
                yield m

    def original(self, start: int, end: int) -> str:
        return self.text[start:end]

    def before(self, start: int, words: int = 2) -> list[str]:
        """Up to `words` untaken words just before `start`, nearest last."""
        head = self.low[:start]
        found = re.findall(r"[\w-]+", head)
        return found[-words:]

    def leftover(self) -> list[str]:
        """Words nobody took that carry meaning."""
        out = []
        for m in re.finditer(r"[\w@./:-]+", self.low):
            word = m.group(0).strip(".:-/")
            # A word partly taken (a unit glued to a number) was understood.
            if not word or not self.free(m.start(), m.end()) or word in STOP_WORDS:
                continue
            out.append(self.original(m.start(), m.end()).strip(".:-/"))
        return [w for w in out if w]
