"""The map of the house (docs/architecture.md), checked: which app may import which, that the
library (common/) and the apps never reach into the top shell (portal/), and the console's
naming rule. A new app or a new dependency fails here until the map says so."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from django.urls import URLResolver, get_resolver

ROOT = Path(__file__).resolve().parents[2]

# Production code only; tests may also import what they exercise (portal.asgi's application).
MAY_IMPORT: dict[str, set[str]] = {
    "accounts": set(),
    "inference": {"accounts"},
    "knowledge": {"accounts", "inference"},
    "chat": {"accounts", "inference", "knowledge"},
    "openai_api": {"accounts", "inference", "knowledge"},
    "capacity": {"accounts", "inference"},
    "scenarios": {"accounts", "inference", "knowledge", "capacity"},
}


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def _top(module: str) -> str:
    """ "apps.chat.views" -> "chat"; "portal.asgi" -> "portal"; "common.http" -> "common"."""
    parts = module.split(".")
    return parts[1] if parts[0] == "apps" and len(parts) > 1 else parts[0]


def _production(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*.py") if "tests" not in p.relative_to(folder).parts]


def test_every_app_is_on_the_map() -> None:
    apps = {p.parent.name for p in (ROOT / "apps").glob("*/apps.py")}
    assert apps == set(MAY_IMPORT), "add the app to MAY_IMPORT and to docs/architecture.md"


def test_apps_import_only_what_the_map_allows() -> None:
    broken = []
    for app, allowed in MAY_IMPORT.items():
        for path in _production(ROOT / "apps" / app):
            for module in _imports(path):
                if not module.startswith("apps.") and _top(module) != "portal":
                    continue
                target = _top(module)
                if target != app and target not in allowed:
                    broken.append(f"{path.relative_to(ROOT)} imports {module}")
    assert broken == []


def test_the_library_imports_no_app_and_not_the_shell() -> None:
    files = list((ROOT / "common").rglob("*.py"))
    assert len(files) > 10  # the scan really reads the library
    broken = [
        f"{p.relative_to(ROOT)} imports {m}"
        for p in files
        for m in _imports(p)
        if m.startswith(("apps.", "portal")) and _top(m) in {*MAY_IMPORT, "portal"}
    ]
    assert broken == []


def test_settings_are_built_without_importing_an_app() -> None:
    """Settings load before the app registry: an app imported there would run before Django
    is set up. Their helpers (portal/ldap_settings.py) live in the shell."""
    modules = _imports(ROOT / "portal" / "settings.py")
    assert "portal.ldap_settings" in modules  # the scan sees the lazy import inside the if
    assert sorted(m for m in modules if m.startswith("apps.")) == []


def test_the_library_has_no_models() -> None:
    assert not list((ROOT / "common").rglob("models.py"))
    assert not list((ROOT / "common").rglob("migrations"))


def test_console_pages_live_under_one_prefix_and_one_template_rule() -> None:
    # Every console URL module is mounted under /admin-console/, and only those are.
    mounted: dict[str, str] = {}
    for entry in get_resolver().url_patterns:
        if isinstance(entry, URLResolver):
            module = getattr(entry.urlconf_module, "__name__", "")
            mounted[module] = str(entry.pattern)
    console = {m: p for m, p in mounted.items() if m.endswith("console_urls")}
    assert len(console) >= 5
    assert all(p.startswith("admin-console/") for p in console.values()), console
    others = {m: p for m, p in mounted.items() if p.startswith("admin-console/")}
    assert set(others) == set(console), "a console URL module must be named console_urls.py"
    # Every page in the console frame is <app>/console_<page>.html.
    templates = ROOT / "templates"
    framed = [
        p.relative_to(templates).as_posix()
        for p in templates.rglob("*.html")
        if re.search(r'{%\s*extends\s+"accounts/console_base\.html"', p.read_text())
    ]
    assert len(framed) >= 10
    assert [t for t in framed if not re.fullmatch(r"[a-z_]+/console_[a-z_]+\.html", t)] == []
    assert not (templates / "console").exists()
