"""The packaged multilingual model (EMBEDDING_MODEL=use-multilingual-v3): Russian questions
find English pages by meaning, with no glossary entry for their words."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User

from apps.knowledge.models import Collection
from apps.knowledge.search import retrieval
from apps.knowledge.store import qdrant
from apps.knowledge.store.embeddings import BOTH, USE_MULTILINGUAL, BothEmbedder, get_embedder

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _own_qdrant(tmp_path: Path, settings) -> Iterator[None]:
    """A Qdrant of this test's own: the other tests' collection keeps the default model."""
    qdrant.close()
    settings.QDRANT_PATH = str(tmp_path / "qdrant")
    yield
    qdrant.close()


PAGES = {
    "buffer.md": "# Bounded blocking buffer\n\nThe buffer_size setting limits how many records "
    "the pipeline holds in memory. When the buffer is full, sources wait until the "
    "processors have drained it.\n",
    "timeouts.md": "# Timeouts\n\nSet timeout connect, timeout client and timeout server in "
    "the defaults section: without them a proxy keeps idle connections open forever.\n",
    "roles.md": "# Roles\n\nA role bundles tasks, handlers, templates and variables so that "
    "a playbook can reuse them on many hosts.\n",
    "certificates.md": "# Certificate renewal\n\nCertificates issued by the cluster issuer are "
    "renewed thirty days before they expire; check the Certificate resource's status.\n",
    # Pages on neighbouring subjects, so that a match is not a lucky draw.
    "rotation.md": "# Log rotation\n\nLogs are rotated daily and compressed; seven files are "
    "kept, older ones are deleted.\n",
    "eviction.md": "# Pod eviction\n\nWhen a node runs short of memory the kubelet evicts pods, "
    "lowest priority first.\n",
    "backups.md": "# Backup schedule\n\nA full backup runs every night at two, incremental ones "
    "every hour; restores are tested monthly.\n",
    "replication.md": "# Replication lag\n\nA replica that falls behind the primary serves stale "
    "reads; watch the lag in seconds on the dashboard.\n",
    "ratelimit.md": "# Rate limiting\n\nEach client may send a hundred requests a second; "
    "beyond that the gateway answers 429.\n",
    "dns.md": "# DNS caching\n\nResolvers cache answers for the record's TTL; lower it before "
    "moving a service to new addresses.\n",
}
# Russian words no glossary line covers: only the model's own knowledge links the languages.
QUESTIONS = {
    "Сколько записей конвейер держит в памяти, пока обработчики не разгребут очередь?": (
        "buffer.md"
    ),
    "Почему прокси годами держит открытыми простаивающие соединения?": "timeouts.md",
    "Как переиспользовать задачи и шаблоны на многих серверах?": "roles.md",
    "Когда продлеваются сертификаты и где смотреть их статус?": "certificates.md",
}


def test_russian_questions_find_english_pages_by_meaning(
    tmp_path: Path, ingest, admin_user: User, settings
) -> None:
    pages = tmp_path / "pages"
    pages.mkdir()
    for name, text in PAGES.items():
        (pages / name).write_text(text)
    settings.EMBEDDING_MODEL = USE_MULTILINGUAL
    job = ingest(pages, "english pages")
    row = Collection.objects.get(name=job.collection)
    assert (row.model, row.dim) == (USE_MULTILINGUAL, 512)
    for question, page in QUESTIONS.items():
        hits = retrieval.search(admin_user, question, k=5, mode="dense")
        assert [h.path for h in hits][0] == page, (question, [h.path for h in hits])
    # The vectors are the model's own: a Russian sentence and its English translation are
    # closer to each other than to an unrelated English sentence.
    ru, en, other = get_embedder().encode(
        ["Сертификат истекает через неделю", "The certificate expires in a week", PAGES["roles.md"]]
    )
    assert float(ru @ en) > float(ru @ other) + 0.2


def test_both_models_side_by_side_average_their_cosines() -> None:
    both = get_embedder(BOTH)
    assert isinstance(both, BothEmbedder)
    minilm, use = both.parts
    texts = ["OSD nearfull: rebalance the cluster", "OSD почти заполнен: перебалансировка"]
    a, b = both.encode(texts)
    assert both.dim == minilm.dim + use.dim == 896
    assert abs(float(a @ a) - 1.0) < 1e-5
    first, second = minilm.encode(texts), use.encode(texts)
    mean = (float(first[0] @ first[1]) + float(second[0] @ second[1])) / 2
    assert abs(float(a @ b) - mean) < 1e-5


# Pages whose words the seeded glossary does not cover, and Russian questions about them.
TRANSLATABLE = {
    "trim.md": "# Trim string\n\nRemoves leading and trailing whitespace from the value.\n",
    "dedupe.md": "# Duplicate events\n\nDrops duplicate events that carry the same key.\n",
    "defaults.md": "# Module defaults\n\nSets default values for module parameters once.\n",
    "obfuscate.md": "# Masking\n\nMasks card numbers and email addresses with asterisks.\n",
}
TRANSLATED_QUESTIONS = {
    "как обрезать пробелы в начале и в конце значения?": "trim.md",
    "как выбросить дублирующиеся события?": "dedupe.md",
    "где задать значения по умолчанию?": "defaults.md",
    "как замаскировать номера карт?": "obfuscate.md",
}


def test_default_model_finds_english_pages_through_learned_english_words(
    tmp_path: Path, ingest, admin_user: User, settings, monkeypatch
) -> None:
    """The English-only default model, no glossary line for these words: indexing learns the
    pages' English words, and a Russian question's words are matched to them."""
    from apps.knowledge.models import EnglishWord
    from apps.knowledge.search import crosslingual

    monkeypatch.setattr(crosslingual, "MIN_CHUNKS", 1)  # a few short pages: most words once
    crosslingual.invalidate()
    pages = tmp_path / "pages"
    pages.mkdir()
    for name, text in {**PAGES, **TRANSLATABLE}.items():
        (pages / name).write_text(text)
    ingest(pages, "english pages")
    assert EnglishWord.objects.filter(word__in=["whitespace", "duplicate", "masks"]).count() == 3
    # Identifiers and stopwords are not words to translate to.
    assert not EnglishWord.objects.filter(word__in=["buffer_size", "the", "and"]).exists()

    def first(question: str) -> str:
        return retrieval.search(admin_user, question, k=5)[0].path

    settings.KNOWLEDGE_CROSSLINGUAL = False
    without = {q: first(q) for q in TRANSLATED_QUESTIONS}
    settings.KNOWLEDGE_CROSSLINGUAL = True
    crosslingual.invalidate()
    with_words = {q: first(q) for q in TRANSLATED_QUESTIONS}
    print(without, with_words)
    assert with_words == TRANSLATED_QUESTIONS
    assert sum(without[q] == page for q, page in TRANSLATED_QUESTIONS.items()) <= 2


def test_both_models_lean_on_the_model_of_the_question_language() -> None:
    both = get_embedder(BOTH)
    assert isinstance(both, BothEmbedder)
    minilm, use = both.parts
    text = "OSD nearfull: rebalance the cluster"
    chunk = both.encode([text])[0]
    english, russian = "OSD nearfull rebalance", "OSD почти заполнен, перебалансировка"
    ref_m = float(minilm.encode([english])[0] @ minilm.encode([text])[0])
    ref_u = float(use.encode([russian])[0] @ use.encode([text])[0])
    # share 1: MiniLM's cosine alone; share 0: the multilingual one's; between: the blend.
    assert abs(float(both.encode_query(english, russian, 1.0) @ chunk) - ref_m) < 1e-4
    assert abs(float(both.encode_query(english, russian, 0.0) @ chunk) - ref_u) < 1e-4
    blend = float(both.encode_query(english, russian, 0.25) @ chunk)
    assert abs(blend - (0.25 * ref_m + 0.75 * ref_u)) < 1e-4


def test_a_pasted_page_is_not_translated_word_by_word(monkeypatch) -> None:
    from apps.knowledge.search import crosslingual
    from apps.knowledge.store import embeddings

    asked: list[int] = []
    real = embeddings.UseEmbedder.encode

    def counting(self: Any, texts: list[str]) -> Any:
        asked.append(len(texts))
        return real(self, texts)

    monkeypatch.setattr(embeddings.UseEmbedder, "encode", counting)
    monkeypatch.setattr(
        crosslingual._vocabulary,
        "get",
        lambda: crosslingual.Vocabulary.of(["whitespace"], use_row("whitespace")),
    )
    words = " ".join(f"слово{chr(0x430 + i % 32)}{chr(0x430 + i // 32 % 32)}" for i in range(3000))
    crosslingual.translate(words + " пробелы")
    assert asked and max(asked) <= crosslingual.MAX_WORDS


def use_row(word: str) -> Any:
    return get_embedder(USE_MULTILINGUAL).encode([word])


def test_an_index_built_before_learning_learns_its_words_on_command(
    tmp_path: Path, ingest, settings
) -> None:
    from io import StringIO

    from django.core.management import call_command

    from apps.knowledge.models import EnglishWord

    pages = tmp_path / "pages"
    pages.mkdir()
    for name, text in TRANSLATABLE.items():
        (pages / name).write_text(text)
    settings.KNOWLEDGE_CROSSLINGUAL = False
    ingest(pages, "older index")
    assert not EnglishWord.objects.exists()
    settings.KNOWLEDGE_CROSSLINGUAL = True
    out = StringIO()
    call_command("knowledge", "words", stdout=out)
    assert "4 chunks read" in out.getvalue()
    assert EnglishWord.objects.filter(word__in=["whitespace", "duplicate", "masks"]).count() == 3
    words = EnglishWord.objects.count()
    call_command("knowledge", "words", stdout=out)  # again: nothing new
    assert "0 new English words" in out.getvalue()
    assert EnglishWord.objects.count() == words


def _learned(monkeypatch, texts: list[str]) -> None:
    """A vocabulary learned from `texts`, as indexing would learn it."""
    from apps.knowledge.search import crosslingual

    words = sorted(set().union(*(crosslingual.english_words(t) for t in texts)))
    vectors = get_embedder(USE_MULTILINGUAL).encode(words)
    vocabulary = crosslingual.Vocabulary.of(words, vectors)
    monkeypatch.setattr(crosslingual._vocabulary, "get", lambda: vocabulary)


ROUTES = (
    "# Routes\n\nRoutes send events to sinks by a condition; an event no route matches is lost.\n"
)


def test_a_russian_question_is_nearest_to_the_chunk_that_speaks_of_it(monkeypatch, settings):
    from apps.knowledge.search import crosslingual

    texts = [TRANSLATABLE["dedupe.md"], ROUTES, PAGES["timeouts.md"], PAGES["dns.md"]]
    _learned(monkeypatch, texts)
    near = crosslingual.similarities("как выбросить дублирующиеся события?", texts)
    assert near is not None
    # "events" is in both of the first two: the page about duplicates is the nearer one.
    assert near[0] == max(near) and near[0] > near[1] > max(near[2:])
    assert crosslingual.similarities("how do I drop duplicate events?", texts) is None
    settings.KNOWLEDGE_CROSSLINGUAL = False
    assert crosslingual.similarities("как выбросить дублирующиеся события?", texts) is None


def test_the_nearer_chunk_of_two_with_close_ranks_comes_first(monkeypatch, settings) -> None:
    """Rank fusion put the page that shares the word "events" first, a hair ahead of the page
    about duplicates; the words' closeness reorders them, only for a Russian question and
    only with the English-only default model."""

    def hit(name: str, text: str, score: float, language: str = "en") -> retrieval.Hit:
        return retrieval.Hit(
            chunk_id=name, text=text, title=name, section="", link="", version="",
            source="pages", source_id=1, document_id=name, path=name, score=score,
            language=language,
        )  # fmt: skip

    def order(question: str, mode: str = "hybrid", russian_page: bool = False) -> list[str]:
        hits = [
            hit("routes.md", ROUTES, 0.0164),
            hit("dedupe.md", TRANSLATABLE["dedupe.md"], 0.0161),
            hit("dns.md", PAGES["dns.md"], 0.0100),
        ]
        if russian_page:  # its words are not in the English vocabulary: it keeps its rank
            hits.insert(0, hit("runbook.md", "Дубли событий: включите дедупликацию.", 0.0170, "ru"))
        return [h.path for h in retrieval._nearer_words(question, hits, mode)]

    _learned(monkeypatch, [ROUTES, TRANSLATABLE["dedupe.md"], PAGES["dns.md"]])
    assert order("как выбросить дублирующиеся события?")[0] == "dedupe.md"
    assert order("как выбросить дублирующиеся события?", russian_page=True)[:2] == [
        "runbook.md",
        "dedupe.md",
    ]
    assert order("how do I drop duplicate events?")[0] == "routes.md"
    assert order("как выбросить дублирующиеся события?", mode="dense")[0] == "routes.md"
    settings.EMBEDDING_MODEL = BOTH  # its own cosine already read the question's meaning
    assert order("как выбросить дублирующиеся события?")[0] == "routes.md"


def test_only_the_translated_words_the_question_vouches_for_are_searched(
    monkeypatch, settings
) -> None:
    """Translations the dev model wrote for two questions of the existing set: it filled
    what it could not translate with words of its own (a wallet, a joystick)."""
    from apps.knowledge.search import crosslingual

    buckets = "топ-10 сервисов по числу ошибок, но счётчики в бакетах неточные из-за шардов"
    wallet = "the top-10 services with the most errors, but the counters in the wallet are not accurate due to holes in the bar codes"
    scaling = "HPA уже минут 20 держит максимальное число реплик и не может скейлиться дальше"
    joystick = "HPA has been holding the maximum number of replies and cannot continue to play with the joystick"
    _learned(monkeypatch, [wallet, joystick, "Replicas, buckets and shards of an index."])
    kept = crosslingual.confirmed(buckets, wallet)
    assert "top-10" in kept.split()  # not a plain word: kept as the model copied it
    assert {"services", "errors", "counters"} <= crosslingual.english_words(kept)
    assert "wallet" not in kept
    kept = crosslingual.confirmed(scaling, joystick)
    assert "HPA" in kept.split()  # in the question as written
    assert {"maximum", "number"} <= crosslingual.english_words(kept)
    assert "joystick" not in kept
    assert "replies" not in kept  # a wrong translation of "реплик" (replicas)
    settings.KNOWLEDGE_CROSSLINGUAL = False  # nothing to judge them by: all are searched
    assert crosslingual.confirmed(scaling, joystick) == joystick
