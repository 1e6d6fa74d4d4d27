"""The printed English-Russian dictionary read backwards (dictionary.py): Russian words the
multilingual encoder cannot match are searched for by the translations it lists."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from apps.knowledge.search import crosslingual, dictionary, glossary
from apps.knowledge.search.sparse import stem
from apps.knowledge.tests.test_multilingual import _learned

pytestmark = pytest.mark.django_db

# Two entries as the Debian file writes them (headword, then indented senses).
ENTRIES = """discard
   1. _n. [↗dɪskɑ:d]
      1) сбрасывание карт
      3) что-л. ненужное; to throw into the discard выбросить за ненадобностью
   2. _v. [dɪs↗kɑ:d]
      2) отбрасывать, выбрасывать (за ненадобностью)
mask
   2. _v. маскировать; скрывать
00-database-short
   словарь
"""

NOP = "# No-op exporter\n\nUse the nop exporter to discard data: nothing is sent anywhere.\n"
DEBUG = "# Debug exporter\n\nThe debug exporter writes telemetry to the console for inspection.\n"
QUESTION = "есть ли экспортер, который просто выбрасывает данные?"


@pytest.fixture(autouse=True)
def _fresh() -> Iterator[None]:
    dictionary.forget()
    yield
    dictionary.forget()


def test_only_one_word_translations_of_a_headword_are_read_backwards() -> None:
    table = dictionary.parse(ENTRIES)
    assert table[stem("выбрасывает")] == {"discard"}
    assert table[stem("маскировать")] == {"mask"}
    assert table[stem("скрывать")] == {"mask"}
    # An example phrase and a gloss in brackets are not translations of the headword.
    assert stem("ненадобностью") not in table
    assert stem("выбросить") not in table
    # The database's own header is not a word.
    assert stem("словарь") not in table
    assert dictionary.parse("\x00\x01garbage\n   )))((( ;;\n") == {}


def test_a_russian_word_the_encoder_cannot_match_is_searched_by_its_translation(
    monkeypatch, settings
) -> None:
    assert Path(settings.KNOWLEDGE_DICTIONARY).is_file(), "make system-packages installs it"
    _learned(monkeypatch, [NOP, DEBUG])
    # The encoder alone does not link "выбрасывает" to "discard"; the dictionary does, and
    # the encoder agrees that the two are near.
    assert "discard" not in dict(crosslingual.translate(QUESTION))
    found = dict(crosslingual.dictionary_words(QUESTION))
    assert found["discard"] >= crosslingual.DICTIONARY_CONFIRM
    # A guess: it may reorder the candidates, never count towards the relevance a hit shows
    # (the glossary's expansion is what that relevance reads).
    weighted, english = glossary.expand(QUESTION)
    assert stem("discard") not in weighted and "discard" not in english
    # A word the knowledge base does not contain is never proposed ("throw", "emit", "belch").
    assert set(found) <= crosslingual.english_words(NOP + DEBUG)
    settings.KNOWLEDGE_CROSSLINGUAL = False
    assert crosslingual.dictionary_words(QUESTION) == []


def test_a_missing_or_damaged_dictionary_leaves_the_search_as_it_was(
    monkeypatch, settings, tmp_path: Path
) -> None:
    _learned(monkeypatch, [NOP, DEBUG])
    damaged = tmp_path / "mueller7.dict.dz"
    damaged.write_bytes(b"\x1f\x8b\x08not a gzip stream at all")
    for path in (str(damaged), str(tmp_path / "absent.dict.dz"), ""):
        settings.KNOWLEDGE_DICTIONARY = path
        dictionary.forget()
        assert crosslingual.dictionary_words(QUESTION) == []
        assert dictionary.english("выбрасывает") == frozenset()


def test_a_hybrid_search_asks_for_the_dictionarys_word_in_its_sparse_half(
    tmp_path: Path, ingest, admin_user, settings, monkeypatch
) -> None:
    """The search a reader makes, on an index with the word: the sparse query carries the
    guess at the translation's weight; the relevance the hit shows does not count it."""
    from apps.knowledge.search import english, retrieval

    settings.KNOWLEDGE_TRANSLATION = False  # the dictionary's part alone
    pages = tmp_path / "pages"
    pages.mkdir()
    (pages / "debug.md").write_text(DEBUG)
    (pages / "nop.md").write_text(NOP)
    # A word is learned once two chunks use it.
    (pages / "filter.md").write_text("# Filter\n\nA condition may discard spans.\n")
    ingest(pages, "exporters")
    crosslingual.invalidate()
    asked: list[dict[str, float]] = []
    real = retrieval.query_vector

    def recorded(weighted: dict[str, float]):  # the real sparse vector, its terms noted
        asked.append(dict(weighted))
        return real(weighted)

    monkeypatch.setattr(retrieval, "query_vector", recorded)
    hits = retrieval.search(admin_user, QUESTION, k=3)
    assert asked[-1][stem("discard")] == english.WEIGHT
    retrieval.search(admin_user, QUESTION, k=3, mode="sparse")  # an exact-term lookup
    assert stem("discard") not in asked[-1]
    settings.KNOWLEDGE_DICTIONARY = ""
    dictionary.forget()
    without = retrieval.search(admin_user, QUESTION, k=3)
    assert stem("discard") not in asked[-1]
    # The relevance each page shows is the same with the guess and without it.
    assert {h.path: h.relevance for h in hits} == {h.path: h.relevance for h in without}
