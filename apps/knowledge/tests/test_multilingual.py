"""The packaged multilingual model (EMBEDDING_MODEL=use-multilingual-v3): Russian questions
find English pages by meaning, with no glossary entry for their words."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

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
