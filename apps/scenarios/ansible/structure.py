"""What a pasted Ansible file is (playbook, task list, vars) and its plays and tasks, with
their lines. Nothing here templates or runs anything: values are read as written."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import yaml
from django.utils.translation import gettext as _

from apps.scenarios.engine import yamlsafe as y
from apps.scenarios.engine.base import InputError

# Keywords a task may carry beside its module (Ansible's task, block and role keywords).
TASK_KEYWORDS = frozenset(
    [
        "name",
        "when",
        "loop",
        "loop_control",
        "register",
        "become",
        "become_user",
        "become_method",
        "become_flags",
        "become_exe",
        "notify",
        "tags",
        "vars",
        "environment",
        "changed_when",
        "failed_when",
        "ignore_errors",
        "ignore_unreachable",
        "no_log",
        "delegate_to",
        "delegate_facts",
        "run_once",
        "check_mode",
        "diff",
        "args",
        "async",
        "poll",
        "retries",
        "until",
        "delay",
        "listen",
        "block",
        "rescue",
        "always",
        "any_errors_fatal",
        "throttle",
        "timeout",
        "collections",
        "module_defaults",
        "debugger",
        "connection",
        "port",
        "remote_user",
        "action",
        "local_action",
    ]
)
PLAY_KEYS = frozenset({"hosts", "import_playbook", "ansible.builtin.import_playbook"})
TASK_LISTS = ("pre_tasks", "tasks", "post_tasks", "handlers")


def short(module: str) -> str:
    """`ansible.builtin.service` and `service` name the same module."""
    for prefix in ("ansible.builtin.", "ansible.legacy."):
        if module.startswith(prefix):
            return module[len(prefix) :]
    return module


@dataclass
class Task:
    """One task (or handler) with its module, arguments and where it is."""

    node: yaml.MappingNode
    module: str  # as written, e.g. "ansible.builtin.shell" or "shell"
    args: yaml.Node | None
    section: str  # tasks, handlers, pre_tasks, post_tasks
    play: Play | None
    inherited_become: bool = False

    @property
    def line(self) -> int:
        return y.line_of(self.node)

    @property
    def name(self) -> str:
        return y.text(y.get(self.node, "name")) or short(self.module)

    @property
    def short_module(self) -> str:
        return short(self.module)

    def arg(self, key: str) -> yaml.Node | None:
        """An argument, from the module's mapping or the task's `args:`."""
        found = y.get(self.args, key)
        return found if found is not None else y.get(y.get(self.node, "args"), key)

    def arg_text(self, key: str) -> str | None:
        return y.text(self.arg(key))

    def free_form(self) -> str:
        """The command line of command/shell/raw/script (free form or `cmd:`/`argv:`)."""
        if y.is_scalar(self.args):
            return y.text(self.args) or ""
        cmd = self.arg_text("cmd")
        if cmd:
            return cmd
        argv = self.arg("argv")
        return " ".join(y.text(n) or "" for n in y.seq(argv))

    def keyword(self, key: str) -> yaml.Node | None:
        return y.get(self.node, key)

    @property
    def become(self) -> bool:
        node = self.keyword("become")
        return y.truthy(node) if node is not None else self.inherited_become


@dataclass
class Play:
    """A play with its own keywords and its tasks in order."""

    node: yaml.MappingNode
    tasks: list[Task] = field(default_factory=list)

    @property
    def line(self) -> int:
        return y.line_of(self.node)

    @property
    def name(self) -> str:
        return y.text(y.get(self.node, "name")) or _("play at line %(n)d") % {"n": self.line}

    @property
    def hosts(self) -> str:
        node = y.get(self.node, "hosts")
        if y.is_seq(node):
            return ",".join(y.text(n) or "" for n in y.seq(node))
        return (y.text(node) or "").strip()


@dataclass
class Parsed:
    kind: str  # playbook | tasks | handlers | vars
    root: yaml.Node
    plays: list[Play]
    tasks: list[Task]  # every task and handler, plays' and bare


def module_of(node: yaml.MappingNode) -> tuple[str, yaml.Node | None] | None:
    for key, _k, value in y.items(node):
        if key in ("action", "local_action"):
            text = y.text(value) or ""
            return (text.split()[0] if text.split() else key), value
        if key not in TASK_KEYWORDS and not key.startswith("with_"):
            return key, value
    return None


def _walk(nodes: list[yaml.Node], section: str, play: Play | None, become: bool) -> Iterator[Task]:
    for node in nodes:
        if not isinstance(node, yaml.MappingNode):
            continue
        blocks = [y.get(node, k) for k in ("block", "rescue", "always")]
        if any(b is not None for b in blocks):
            inner = y.truthy(y.get(node, "become")) if y.get(node, "become") else become
            for b in blocks:
                yield from _walk(y.seq(b), section, play, inner)
            continue
        found = module_of(node)
        if found is None:
            continue
        module, args = found
        yield Task(node, module, args, section, play, inherited_become=become)


def detect_kind(root: yaml.Node) -> str:
    if isinstance(root, yaml.MappingNode):
        keys = {k for k, _a, _b in y.items(root)}
        # a role's meta/main.yml; anything else is variables (vars/, defaults/, group_vars/)
        return "meta" if keys & {"galaxy_info", "dependencies"} else "vars"
    if not isinstance(root, yaml.SequenceNode):
        raise InputError(
            _(
                "this is not a playbook, a task list or a vars file: the top level is a single value"
            ),
            line=y.line_of(root),
        )
    entries = [n for n in root.value if isinstance(n, yaml.MappingNode)]
    if any(k in PLAY_KEYS for n in entries for k, _a, _b in y.items(n)):
        return "playbook"
    return "tasks"


def parse(root: yaml.Node, kind: str = "") -> Parsed:
    kind = kind or detect_kind(root)
    plays: list[Play] = []
    tasks: list[Task] = []
    if kind == "playbook":
        for node in y.seq(root):
            if not isinstance(node, yaml.MappingNode):
                raise InputError(_("a play must be a mapping"), line=y.line_of(node))
            play = Play(node)
            become = y.truthy(y.get(node, "become"))
            for section in TASK_LISTS:
                play.tasks += _walk(y.seq(y.get(node, section)), section, play, become)
            plays.append(play)
            tasks += play.tasks
    elif kind in ("tasks", "handlers"):
        if not isinstance(root, yaml.SequenceNode):
            raise InputError(_("a task list must be a YAML list"), line=y.line_of(root))
        tasks = list(_walk(y.seq(root), kind, None, False))
    return Parsed(kind, root, plays, tasks)
