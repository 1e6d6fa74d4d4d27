"""The contract every scenario implements, and the result of its analysis.

A scenario is deterministic first and the model explains second (DESIGN.md, "Scenarios"):
`analyze()` parses and checks the input with parsers, rules and real tools and must work
without any model; the explanation and the checks of what the model wrote come after, on
top of the stored analysis. Each scenario lives in its own package under apps/scenarios/
and registers an instance with `registry.register`.

How a scenario plugs in (everything but `slug`, `title`, `summary` and `analyze` is optional):

    # apps/scenarios/proxy_config/__init__.py
    class ProxyConfig(Scenario):
        slug = "proxy-config"                  # the page is /scenarios/proxy-config/
        title = _("Nginx and HAProxy")         # lazy translations: shown in RU and EN
        summary = _("Review or write Nginx and HAProxy configuration.")
        tools = ("nginx", "haproxy")           # run through engine.runner; /readyz and the
                                               # page say which are not installed
        form_class = ProxyForm                 # ScenarioForm subclass: its own fields become
                                               # `params` (page and HTTP API alike)
        input_help = _("An nginx.conf or haproxy.cfg, or one file of it.")
        source_tags = ("nginx",)               # knowledge sources the explanation reads
        instruction = "Explain ..."            # what the model is asked to do with findings

        def analyze(self, text, params) -> Analysis:      # deterministic; InputError on bad
            ...                                           # input, naming line or field
        def check_block(self, block, analysis) -> Check | None:  # a fenced block of the
            ...                                           # model's answer, real tool
    registry.register(ProxyConfig())

The engine does the rest, the same way for every scenario: the page at /scenarios/<slug>/
(form, validation errors, findings at once, the explanation streamed, checks), stored runs
with history, sharing and "continue in chat", `manage.py scenario analyze` and
`POST /api/scenarios/<slug>/analyze`. Analysis.facts are shown by the template
`templates/scenarios/<slug_with_underscores>_facts.html` when the scenario has one
(context: run, facts, scenario), else as a plain table.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from django.utils.functional import Promise

from apps.scenarios.engine.checks import Block, Check, code_blocks
from apps.scenarios.engine.findings import Finding, blocking, ordered

if TYPE_CHECKING:
    from apps.scenarios.engine.forms import ScenarioForm

# Pasted or uploaded input larger than this is refused before any parser sees it.
MAX_INPUT_BYTES = 2 * 1024 * 1024


class InputError(ValueError):
    """The input is not what the scenario reads. The message says what is wrong in words a
    person can act on and names the line or the field."""

    def __init__(self, message: str, *, line: int | None = None, field: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.field = field

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}" if self.line else self.message

    def to_dict(self) -> dict[str, Any]:
        return {"message": self.message, "line": self.line, "field": self.field}


@dataclass
class Analysis:
    """What the deterministic half produced."""

    findings: list[Finding]
    # Structured results beyond findings, e.g. a merged timeline and its durations, a query,
    # a checklist. JSON-serialisable; printed beside the findings.
    facts: dict[str, Any] = field(default_factory=dict)
    # What grounding should look up in the knowledge base: exact identifiers and phrases.
    grounding: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.findings = ordered(self.findings)

    @property
    def failed(self) -> bool:
        return blocking(self.findings)

    def to_dict(self) -> dict[str, Any]:
        return {"findings": [f.to_dict() for f in self.findings], **self.facts}


def check_size(text: str, limit: int = MAX_INPUT_BYTES) -> str:
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > limit:
        raise InputError(
            f"the input is {size / 1048576:.1f} MB; at most {limit / 1048576:.0f} MB is read",
            field="text",
        )
    if "\x00" in text:
        raise InputError("the input is binary, not text", field="text")
    return text


def read_input_file(name: str | None) -> str:
    """Text from FILE or '-' (standard input) for the command line, size-checked."""
    if not name or name == "-":
        data = sys.stdin.buffer.read(MAX_INPUT_BYTES + 1)
    else:
        path = Path(name)
        if not path.is_file():
            raise InputError(f"{name}: no such file", field="file")
        with path.open("rb") as fh:
            data = fh.read(MAX_INPUT_BYTES + 1)
    if len(data) > MAX_INPUT_BYTES:
        raise InputError(f"the input is larger than {MAX_INPUT_BYTES // 1048576} MB", field="file")
    try:
        return check_size(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise InputError(f"the input is not UTF-8 text (byte {exc.start})", field="file") from None


@dataclass(frozen=True)
class Ask:
    """A question a scenario asks the grounded-answer service instead of "explain these
    findings" (e.g. a newcomer's question on an onboarding track), with its own scope, task
    and data (knowledge.answering.ground's arguments)."""

    question: str
    scope: Any = None  # knowledge.answering.Scope; None: the scenario's source tags
    instruction: str = ""
    context: str = ""
    context_title: str = ""


class Scenario:
    """Base class of a scenario. Subclasses set the class attributes and `analyze`."""

    slug: ClassVar[str]
    title: ClassVar[str | Promise]
    summary: ClassVar[str | Promise]
    # What the model is asked to do with the findings (English; the answer follows the
    # user's language). It explains, it does not diagnose.
    # External tools the analysis runs (through engine.runner); /readyz says which are missing.
    tools: ClassVar[tuple[str, ...]] = ()
    instruction: ClassVar[str] = (
        "Explain the findings below to the engineer: what each means, why it matters and "
        "the first safe steps, citing the sources. Do not add problems that are not in the "
        "findings."
    )

    # --- the page -----------------------------------------------------------------------
    # A ScenarioForm subclass adding the scenario's own fields (their cleaned values are the
    # `params` analyze() receives); None: the default form (paste, upload, a file from Git).
    form_class: ClassVar[type[ScenarioForm] | None] = None
    # What to put in, shown above the input ("The output of `ceph health detail`").
    input_help: ClassVar[str | Promise] = ""
    # Whether the page offers the model's explanation of the findings.
    explains: ClassVar[bool] = True
    # Knowledge sources the explanation reads, by the tags an admin gave them (e.g.
    # "runbooks"); () for every source the user may read.
    source_tags: ClassVar[tuple[str, ...]] = ()

    def analyze(self, text: str, params: Mapping[str, Any]) -> Analysis:
        """Parse and check `text` (pasted, uploaded or collected input) with `params` (the
        scenario's own fields). Raises InputError when the input is not what it reads."""
        raise NotImplementedError

    def run_title(self, params: Mapping[str, Any]) -> str:
        """What a run is called in lists when the scenario's own fields say it better than
        the input's first line (e.g. the service being changed); "" for the default."""
        return ""

    # --- grounding and checks -------------------------------------------------------------

    def grounding_query(self, analysis: Analysis) -> str:
        """What the knowledge base is searched for: the analysis' grounding terms, then the
        refs of its most severe findings (exact codes, directive names, runbook URLs)."""
        terms: list[str] = list(analysis.grounding)
        for finding in analysis.findings:
            terms += [r for r in finding.refs if r not in terms]
        return " ".join(dict.fromkeys(t.strip() for t in terms if t.strip()))[:500]

    def ask(self, analysis: Analysis) -> Ask | None:
        """The question a run asks instead of explaining its findings, or None (the
        default: explain them)."""
        return None

    def check_block(self, block: Block, analysis: Analysis) -> Check | None:
        """The verdict of the scenario's checker on one fenced block of the model's answer
        (`analysis` is the run's own, e.g. to know which kind of config it was), or None
        when it does not check this kind of block (shown as not checked)."""
        return None

    def check_answer(self, text: str, analysis: Analysis) -> list[Check]:
        """Every fenced block of the answer with its verdict. Override for checks that need
        the whole answer; the default asks check_block about each block."""
        return [self.check_block(b, analysis) or Check.unchecked(b) for b in code_blocks(text)]

    # --- command line -------------------------------------------------------------------

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """Options of `manage.py scenario analyze SLUG`; by default one FILE or '-'."""
        parser.add_argument("file", nargs="?", default="-", help="input file, or - for stdin")

    def cli_input(self, options: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        """(text, params) from the parsed command-line options."""
        return read_input_file(options.get("file")), {}

    def __repr__(self) -> str:
        return f"<Scenario {self.slug}>"
