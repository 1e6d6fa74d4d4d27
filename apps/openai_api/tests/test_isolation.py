"""The API app is a leaf: no other code imports it (it only calls inference and knowledge)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def _imports(path: Path) -> set[str]:
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module)
            modules.update(f"{node.module}.{alias.name}" for alias in node.names)
    return modules


def test_nothing_imports_the_api_app() -> None:
    own = ROOT / "apps" / "openai_api"
    files = [
        p
        for folder in ("apps", "portal", "bench", "deploy")
        for p in (ROOT / folder).rglob("*.py")
        if own not in p.parents
    ]
    assert len(files) > 100  # the scan really reads the project
    offenders = [
        str(p.relative_to(ROOT))
        for p in files
        if any(m == "apps.openai_api" or m.startswith("apps.openai_api.") for m in _imports(p))
    ]
    assert offenders == []
    # The old home is gone, so nothing can import the API from the chat any more.
    assert not (ROOT / "apps" / "chat" / "openai_api.py").exists()
