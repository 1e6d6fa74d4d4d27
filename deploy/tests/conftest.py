"""Helm chart renders shared by the chart tests (each is a lint run of Helm's engine)."""

from __future__ import annotations

import pytest

from deploy.tests.helm_render import Render, production_values, render


@pytest.fixture(scope="session")
def default(tmp_path_factory: pytest.TempPathFactory) -> Render:
    return render(tmp_path_factory.mktemp("default"))


@pytest.fixture(scope="session")
def production(tmp_path_factory: pytest.TempPathFactory) -> Render:
    return render(tmp_path_factory.mktemp("production"), production_values())
