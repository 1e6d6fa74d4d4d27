"""Sections of the admin console. Each app registers its own pages from AppConfig.ready(),
so the console shell never needs to know which apps exist."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.functional import Promise


@dataclass(frozen=True)
class Section:
    label: str | Promise
    url_name: str
    order: int = 50


_SECTIONS: list[Section] = []


def register(label: str | Promise, url_name: str, order: int = 50) -> None:
    if all(s.url_name != url_name for s in _SECTIONS):
        _SECTIONS.append(Section(label, url_name, order))
        _SECTIONS.sort(key=lambda s: s.order)


def sections() -> list[Section]:
    return list(_SECTIONS)
