"""The RU<->EN ops glossary: sets of interchangeable terms that expand search queries.

Engineers ask in Russian jargon ("под в крашлупе", "кончились иноды") about documents written
in English ("CrashLoopBackOff", "out of inodes"). Each entry is a set of synonyms; a query
containing one of them also searches for the others, in the sparse (BM25) query always and in
the dense query when the embedding model is English-only.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from apps.knowledge.text import stem, terms

# A starting list an admin edits in the console; one set of synonyms per line.
DEFAULT_GLOSSARY = [
    "под, поды, пода, подов, pod, pods",
    "нода, ноды, узел, узлы, node, nodes",
    "неймспейс, пространство имён, namespace",
    "деплоймент, deployment",
    "стейтфулсет, statefulset",
    "демонсет, daemonset",
    "задеплоить, деплой, выкатить, раскатать, выкатка, deploy, rollout, roll out",
    "откатить, откат, rollback, roll back",
    "крашлуп, крашится, падает, перезапускается, рестарт, рестартится, crashloopbackoff, crash loop, restart, restarts",
    "оомкилл, убило по памяти, oomkilled, oom killed, out of memory",
    "пробы, проба, probe, liveness, readiness",
    "кордон, задрейнить, дрейн, cordon, drain",
    "тейнт, толерейшн, taint, toleration",
    "пивиси, том, тома, pvc, persistent volume, volume",
    "ингресс, ingress",
    "нода не готова, нода отвалилась, notready, not ready",
    "кубконфиг, kubeconfig",
    "иноды, инодов, inode, inodes, out of inodes",
    "место кончилось, диск забит, кончилось место, нет места, disk full, no space left on device, filesystem full",
    "файловые дескрипторы, дескрипторы, file descriptors, open files, ulimit",
    "бастион, джамп-хост, bastion, jump host",
    "осд, демон диска, osd",
    "плейсмент-группы, пэгэ, placement group, placement groups, pg",
    "ребаланс, восстановление, rebalance, recovery, backfill",
    "почти заполнен, заполнен, nearfull, near full",
    "пул, пулы, pool, pools",
    "очередь копится, завал очереди, очередь растёт, queue backlog, messages ready, backlog",
    "очередь, очереди, queue, queues",
    "консьюмер, потребитель, потребители, consumer, consumers",
    "паблишер, продюсер, publisher, producer",
    "вихост, vhost, virtual host",
    "сплит-брейн, разделение кластера, network partition, split brain, partition",
    "вытеснение ключей, вытеснение, key eviction, eviction, maxmemory",
    "сентинел, sentinel",
    "мастер, праймари, primary, leader, master",
    "реплика, реплики, стендбай, replica, replicas, standby",
    "лаг репликации, реплика отстаёт, отставание, replication lag, lag",
    "переключение, свитчовер, фейловер, switchover, failover",
    "журнал предзаписи, вал, wal, write-ahead log",
    "сертификат, серт, certificate, cert, tls, ssl",
    "истекает, протух, просрочен, expire, expires, expiring, expired, expiry",
    "алерт, алерты, оповещение, alert, alerts, alerting",
    "дашборд, дашборды, dashboard, dashboards",
    "метрики, метрика, metric, metrics",
    "логи, журнал, log, logs, logging",
    "трейсы, трассировка, trace, traces, tracing, span",
    "коллектор, collector",
    "экспортер, exporter",
    "балансировщик, балансер, load balancer, balancer, haproxy",
    "бэкенд, бэкенды, backend, backends, upstream",
    "таймаут, тайм-аут, timeout, timeouts",
    "ошибка, ошибки, error, errors, failure",
    "перезапуск, перезапустить, рестартануть, restart, reboot",
    "медленно, тормозит, задержка, latency, slow",
    "память, оперативка, memory, ram",
    "процессор, цпу, cpu",
    "диск, диски, disk, disks, drive",
    "индекс, индексы, index, indices, indexes",
    "шард, шарды, shard, shards",
    "снапшот, снимок, snapshot, snapshots",
    "бэкап, резервная копия, backup, backups",
    "кластер, cluster",
    "красный, кластер красный, red, status red",
    "жёлтый, желтый, yellow",
    "плейбук, плейбуки, playbook, playbooks",
    "роль, роли, role, roles",
    "инвентори, инвентарь, inventory",
    "переменные, переменная, variable, variables, vars",
    "хендлер, обработчик, handler, handlers",
    "лимит, лимиты, ограничение, limit, limits, rate limit",
    "конфиг, конфигурация, настройка, config, configuration, settings",
    "прокси, проксировать, proxy, reverse proxy",
    "кэш, кеш, cache, caching",
    "сжатие, gzip, compression",
    "права, доступ, разрешения, permission, permissions, access",
    "пользователь, юзер, user, users",
    "пароль, password",
    "токен, token",
    "обновление, обновить, апгрейд, upgrade, update",
    "версия, версии, version",
    "фича-флаги, feature flags, feature flag",
    "агрегация, агрегации, aggregation, aggregations",
    "запрос, запросы, query, queries, request",
    "здоровье, состояние, health, status",
    "проверка здоровья, хелсчек, health check, healthcheck",
    "масштабирование, отмасштабировать, scale, scaling, autoscaling",
    "правило, правила, rule, rules",
    "маршрутизация, роутинг, routing, route",
    "пайплайн, конвейер, pipeline, pipelines",
    "процессор данных, processor, processors",
    "приёмник, ресивер, receiver, receivers",
    "часы, время, рассинхрон времени, уехали часы, clock, clock skew, time drift, ntp, chrony",
    "батарейка, cmos, rtc, hardware clock, battery",
    "физический сервер, железо, bare metal, hardware, physical server",
    "лидер, выборы лидера, leader, leader election",
    "только чтение, только на чтение, read-only, readonly",
    "квота, quota",
    "дефрагментация, defrag, defragment, defragmentation",
    "уникальные, уникальных, количество уникальных, unique, distinct, cardinality",
    "примерно, приблизительно, approximate, approximately",
    "перцентиль, перцентили, процентиль, percentile, percentiles, p95, p99",
    "среднее, average, avg, mean",
    "сумма, sum",
    "существует, есть значение, непустое, exists, missing, has value",
    "поле, поля, field, fields",
    "документ, документы, document, documents",
    "маскировать, замазать, скрыть, обфускация, mask, masking, obfuscate, redact",
    "почта, email, e-mail",
    "телефон, телефоны, phone, phone number",
    "условие, условия, condition, conditional, when",
    "выражение, выражения, expression, expressions, syntax",
    "больше или равно, greater than or equal, >=",
    "меньше, less than",
    "дата, даты, date, dates, timestamp",
    "часовой пояс, таймзона, timezone, time zone",
    "распарсить, парсить, разобрать, parse, parsing, parser",
    "регулярка, регулярное выражение, regex, regular expression, pattern, grok",
    "шаблон, шаблоны, template, templates, wildcard",
    "спецсимволы, экранирование, escape, escaping, special characters, reserved characters",
    "синтаксис, syntax",
    "точное совпадение, term, exact match, keyword",
    "полнотекстовый, full-text, full text, match",
    "блок, блоки, block, blocks, rescue, always",
    "откатить изменения, обработка ошибок, error handling, rescue",
    "упала, упавшей, упал, неуспешно, failed, failure, failed_when",
    "успешно, changed, changed_when, success",
    "вывод команды, stdout, output, register",
    "код возврата, код выхода, return code, exit code, rc",
    "зеркалирование, зеркальные очереди, mirroring, mirrored queues, ha-mode, classic mirrored",
    "кворумные очереди, quorum queues, quorum queue",
    "политика, политики, policy, policies",
    "удалили, выпилили, убрали, removed, deprecated, deprecation",
    "совместимость, compatibility, breaking changes",
    "релиз, примечания к релизу, release notes, changelog",
    "задержка, латентность, latency, response time",
    "пропускная способность, throughput",
    "запись, писать, write, writes",
    "чтение, читать, read, reads",
    "соединение, соединения, подключение, connection, connections",
    "отказ в соединении, connection refused",
    "ключ, ключи, key, keys",
    "заголовок, заголовки, header, headers",
    "клиент, клиенты, client, clients",
    "адрес, айпи, ip, address",
    "порт, порты, port, ports",
    "сеть, сетевой, network, networking",
    "нагрузка, load",
    "параллельно, параллельность, concurrency, parallel, forks, serial",
    "асинхронно, async, asynchronous, poll",
    "повтор, повторить, ретрай, retry, retries, until",
    "цикл, циклы, loop, loops, with_items",
    "тег, теги, tag, tags",
    "делегировать, delegate, delegate_to",
    "факты, facts, gather_facts",
    "повышение прав, sudo, become, privilege escalation",
    "отладка, дебаг, debug, debugger, debugging",
    "пробный прогон, сухой прогон, check mode, dry run, --check",
    "трассировка запросов, семплирование, sampling, sampler",
    "батч, пачка, batch, batching",
    "буфер, buffer",
    "процессор памяти, memory_limiter, memory limiter",
]

CACHE_SECONDS = 30.0


@dataclass(frozen=True)
class _Entry:
    variants: tuple[tuple[str, ...], ...]  # each synonym as its stemmed words
    latin: tuple[str, ...]  # the English synonyms, for the dense query


_cache: tuple[float, list[_Entry]] | None = None


def invalidate() -> None:
    global _cache
    _cache = None


def _entries() -> list[_Entry]:
    global _cache
    if _cache and time.monotonic() - _cache[0] < CACHE_SECONDS:
        return _cache[1]
    from apps.knowledge.models import GlossaryEntry

    entries = []
    for row in GlossaryEntry.objects.all():
        synonyms = row.term_list()
        variants = tuple(tuple(terms(s)) for s in synonyms if terms(s))
        latin = tuple(s for s in synonyms if s.isascii())
        if variants:
            entries.append(_Entry(variants, latin))
    _cache = (time.monotonic(), entries)
    return entries


def _contains(haystack: list[str], needle: tuple[str, ...]) -> bool:
    n = len(needle)
    return any(tuple(haystack[i : i + n]) == needle for i in range(len(haystack) - n + 1))


def english_for(text: str) -> list[str]:
    """The English synonyms of the glossary terms found in a (Russian) text, fast enough to
    run on every chunk: single-word variants by set lookup, phrases only when their first
    word is present."""
    found = terms(text)
    present = set(found)
    out: list[str] = []
    for entry in _entries():
        for variant in entry.variants:
            if variant[0] in present and (len(variant) == 1 or _contains(found, variant)):
                out.extend(entry.latin)
                break
    return list(dict.fromkeys(out))


def expand(query: str) -> tuple[dict[str, float], list[str]]:
    """The query's weighted stemmed terms (originals 1.0, glossary synonyms 0.6) and the
    English synonyms that matched, for the dense query."""
    base = terms(query)
    weighted: dict[str, float] = dict.fromkeys(base, 1.0)
    english: list[str] = []
    for entry in _entries():
        if not any(_contains(base, variant) for variant in entry.variants):
            continue
        for variant in entry.variants:
            for term in variant:
                weighted.setdefault(term, 0.6)
        english.extend(s for s in entry.latin if s.lower() not in query.lower())
    return weighted, english


__all__ = ["DEFAULT_GLOSSARY", "english_for", "expand", "invalidate", "stem"]
