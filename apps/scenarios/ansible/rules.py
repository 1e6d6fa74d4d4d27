"""Production risk rules for playbooks: what a senior reviewer blocks a merge request for,
beyond what ansible-lint checks. Each rule reads the parsed file (structure.py) as written."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import yaml
from django.utils.translation import gettext as _

from apps.scenarios.ansible.structure import Parsed, Task, short
from apps.scenarios.engine import yamlsafe as y
from apps.scenarios.engine.findings import Finding, Severity

Rule = Callable[[Parsed], Iterator[Finding]]
RULES: list[Rule] = []


def rule(fn: Rule) -> Rule:
    RULES.append(fn)
    return fn


def check(parsed: Parsed) -> list[Finding]:
    return [f for r in RULES for f in r(parsed)]


COMMANDS = {"command", "shell", "raw", "script"}
SERVICE_MODULES = {"service", "systemd", "systemd_service", "sysvinit"}
CONFIG_MODULES = {"template", "copy", "lineinfile", "blockinfile", "ini_file", "replace"}
# Modules that never need root: `become` on them only widens what a bug can do.
NO_ROOT = {
    "debug", "set_fact", "assert", "fail", "meta", "pause", "include_vars", "add_host",
    "group_by", "wait_for", "wait_for_connection", "uri", "ping", "set_stats",
    "include_tasks", "import_tasks", "include_role", "import_role", "fetch", "setup",
}  # fmt: skip
_RESTART_CMD = re.compile(
    r"\b(systemctl\s+(restart|reload|stop)\b|service\s+\S+\s+(restart|reload|stop)\b|"
    r"reboot\b|shutdown\b)"
)
_RM_RF = re.compile(r"\brm\s+(-[a-zA-Z]*r[a-zA-Z]*f[a-zA-Z]*|-[a-zA-Z]*f[a-zA-Z]*r[a-zA-Z]*|"
                    r"-r\s+-f|-f\s+-r|--recursive\s+--force|--force\s+--recursive)\b")  # fmt: skip
_CURL_PIPE = re.compile(r"\b(curl|wget)\b[^|;&]*\|\s*(sudo\s+)?(ba|z|da)?sh\b")
_LOOKUP = re.compile(r"\b(lookup|query|q)\s*\(")
SECRET_KEY = re.compile(
    r"(^|_)(password|passwd|pass|secret|token|api_?key|private_?key|access_?key|secret_?key|"
    r"client_secret|auth_?key|credentials?)($|_)",
    re.I,
)
NOT_SECRET_KEY = re.compile(
    r"(_file|_path|_dir|_length|_policy|_env|_var|_name|_prompt|_lock|_expire)$|^update_password$|"
    r"^no_log$|^(become_)?pass(word)?_?(min|max)",
    re.I,
)
SECRET_VALUE = re.compile(
    r"AKIA[0-9A-Z]{16}|-----BEGIN [A-Z ]*PRIVATE KEY-----|\bgh[pousr]_[A-Za-z0-9]{30,}|"
    r"\bxox[abposr]-[A-Za-z0-9-]{10,}|\bglpat-[A-Za-z0-9_-]{20,}"
)
# First word of a command line -> the module that does it idempotently and with --check.
MODULE_FOR = {
    "systemctl": "ansible.builtin.systemd_service", "service": "ansible.builtin.service",
    "apt": "ansible.builtin.apt", "apt-get": "ansible.builtin.apt",
    "yum": "ansible.builtin.dnf", "dnf": "ansible.builtin.dnf", "rpm": "ansible.builtin.dnf",
    "pip": "ansible.builtin.pip", "pip3": "ansible.builtin.pip", "git": "ansible.builtin.git",
    "curl": "ansible.builtin.get_url / ansible.builtin.uri", "wget": "ansible.builtin.get_url",
    "mkdir": "ansible.builtin.file", "touch": "ansible.builtin.file",
    "chmod": "ansible.builtin.file", "chown": "ansible.builtin.file",
    "ln": "ansible.builtin.file", "rm": "ansible.builtin.file", "cp": "ansible.builtin.copy",
    "useradd": "ansible.builtin.user", "usermod": "ansible.builtin.user",
    "userdel": "ansible.builtin.user", "groupadd": "ansible.builtin.group",
    "tar": "ansible.builtin.unarchive", "unzip": "ansible.builtin.unarchive",
    "sed": "ansible.builtin.lineinfile / ansible.builtin.replace",
    "crontab": "ansible.builtin.cron", "hostname": "ansible.builtin.hostname",
    "mount": "ansible.posix.mount", "sysctl": "ansible.posix.sysctl",
    "iptables": "ansible.builtin.iptables", "modprobe": "community.general.modprobe",
    "timedatectl": "community.general.timezone", "update-alternatives": "community.general.alternatives",
}  # fmt: skip


def _where(task: Task) -> str:
    play = f"{task.play.name} › " if task.play else ""
    return f"{play}{task.section} › {task.name}"


def _first_word(cmd: str) -> str:
    words = [w for w in cmd.strip().split() if "=" not in w or w.startswith("-")]
    while words and words[0] in ("sudo", "env", "nohup", "exec"):
        words = words[1:]
    return words[0].rsplit("/", 1)[-1] if words else ""


def restarts(task: Task) -> bool:
    if task.short_module in SERVICE_MODULES:
        return (task.arg_text("state") or "") in ("restarted", "reloaded", "stopped")
    if task.short_module == "reboot":
        return True
    return task.short_module in COMMANDS and bool(_RESTART_CMD.search(task.free_form()))


@rule
def hosts_all(parsed: Parsed) -> Iterator[Finding]:
    for play in parsed.plays:
        if play.hosts in ("all", "*"):
            node = y.get(play.node, "hosts")
            yield Finding(
                Severity.WARNING,
                "ansible.hosts-all",
                _("The play targets every host in the inventory (hosts: %(h)s).")
                % {"h": play.hosts},
                line=y.line_of(node) if node else play.line,
                where=play.name,
                evidence=f"hosts: {play.hosts}",
                why=_("One mistake, or one run with the wrong inventory, reaches the whole fleet."),
                fix=_("Target a group (hosts: webservers) and narrow one-off runs with --limit."),
                refs=("hosts: all", "patterns", "intro_patterns"),
            )


@rule
def restart_without_serial(parsed: Parsed) -> Iterator[Finding]:
    for play in parsed.plays:
        if y.get(play.node, "serial") is not None or play.hosts in ("localhost", "127.0.0.1"):
            continue
        for task in play.tasks:
            if not restarts(task):
                continue
            fleet = play.hosts in ("all", "*")
            yield Finding(
                Severity.ERROR if fleet else Severity.WARNING,
                "ansible.restart-without-serial",
                _(
                    "'%(task)s' restarts a service on every host of '%(hosts)s' at once: the play has no serial."
                )
                % {"task": task.name, "hosts": play.hosts or "?"},
                line=task.line,
                where=_where(task),
                evidence=f"hosts: {play.hosts}",
                why=_(
                    "Without serial every host restarts in the same minute: a bad config or a "
                    "slow start takes the whole service down, not one batch."
                ),
                fix=_(
                    'Add serial (e.g. serial: "25%" or [1, 5, "25%"]) and max_fail_percentage '
                    "to the play, so a failing batch stops the rollout."
                ),
                refs=("serial", "max_fail_percentage", "guide_rolling_upgrade"),
            )
            break  # one per play: the fix is the same


@rule
def command_instead_of_module(parsed: Parsed) -> Iterator[Finding]:
    for task in parsed.tasks:
        if task.short_module not in COMMANDS:
            continue
        cmd = task.free_form()
        word = _first_word(cmd)
        if "sudo " in f" {cmd} " and task.short_module != "raw":
            yield Finding(
                Severity.WARNING,
                "ansible.sudo-in-command",
                _("'%(task)s' runs sudo inside the command.") % {"task": task.name},
                line=task.line,
                where=_where(task),
                evidence=cmd[:200],
                why=_(
                    "sudo inside a command bypasses become, its logging and its password handling."
                ),
                fix=_("Drop sudo and set become: true on this task."),
                refs=("become", "playbooks_privilege_escalation"),
            )
        module = MODULE_FOR.get(word)
        if module and not _RM_RF.search(cmd):
            yield Finding(
                Severity.WARNING,
                "ansible.command-instead-of-module",
                _("'%(task)s' runs %(word)s through %(module)s; %(fqcn)s does this.")
                % {"task": task.name, "word": word, "module": task.short_module, "fqcn": module},
                line=task.line,
                where=_where(task),
                evidence=cmd[:200],
                why=_(
                    "A command always reports 'changed', is skipped under --check and cannot "
                    "show a --diff; the module is idempotent and supports both."
                ),
                fix=_("Use %(fqcn)s.") % {"fqcn": module},
                refs=(module.split(" / ")[0], "command-instead-of-module"),
            )


@rule
def rm_rf(parsed: Parsed) -> Iterator[Finding]:
    for task in parsed.tasks:
        if task.short_module not in COMMANDS:
            continue
        cmd = task.free_form()
        if not _RM_RF.search(cmd):
            continue
        target = cmd[_RM_RF.search(cmd).end() :].strip()  # type: ignore[union-attr]
        dangerous = "{{" in target or "$" in target or target.split()[:1] in (["/"], ["/*"], ["~"])
        yield Finding(
            Severity.ERROR if dangerous else Severity.WARNING,
            "ansible.rm-rf",
            _("'%(task)s' deletes recursively with rm -rf %(target)s.")
            % {"task": task.name, "target": target[:80]},
            line=task.line,
            where=_where(task),
            evidence=cmd[:200],
            why=_(
                "An empty or wrong variable turns this into rm -rf / or the wrong directory; "
                "nothing asks first and --check cannot show it."
            )
            if dangerous
            else _("rm -rf cannot be dry-run and removes whatever is at the path."),
            fix=_(
                "Use ansible.builtin.file with state: absent, and ansible.builtin.assert that the "
                "path is the one you mean (not empty, not /)."
            ),
            refs=("ansible.builtin.file", "state: absent"),
        )


@rule
def curl_pipe_shell(parsed: Parsed) -> Iterator[Finding]:
    for task in parsed.tasks:
        if task.short_module in COMMANDS and _CURL_PIPE.search(task.free_form()):
            yield Finding(
                Severity.ERROR,
                "ansible.curl-pipe-shell",
                _("'%(task)s' pipes a download straight into a shell.") % {"task": task.name},
                line=task.line,
                where=_where(task),
                evidence=task.free_form()[:200],
                why=_("Whatever the server returns runs as this user, unchecked and unpinned."),
                fix=_(
                    "Download with ansible.builtin.get_url and a checksum, then run the file, or "
                    "install the package from a repository."
                ),
                refs=("ansible.builtin.get_url", "checksum"),
            )


@rule
def become_without_need(parsed: Parsed) -> Iterator[Finding]:
    for play in parsed.plays:
        node = y.get(play.node, "become")
        if node is None or not y.truthy(node) or not play.tasks:
            continue
        if all(t.short_module in NO_ROOT for t in play.tasks):
            yield Finding(
                Severity.WARNING,
                "ansible.become-unneeded",
                _("The play sets become: true but none of its tasks needs root."),
                line=y.line_of(node),
                where=play.name,
                evidence="become: true",
                why=_("Root for tasks that do not need it widens what a mistake can break."),
                fix=_("Remove become from the play; set it on the tasks that need it."),
                refs=("become", "playbooks_privilege_escalation"),
            )
    for task in parsed.tasks:
        node = task.keyword("become")
        if node is not None and y.truthy(node) and task.short_module in NO_ROOT:
            yield Finding(
                Severity.WARNING,
                "ansible.become-unneeded",
                _("'%(task)s' uses become for %(module)s, which does not need root.")
                % {"task": task.name, "module": task.short_module},
                line=y.line_of(node),
                where=_where(task),
                evidence="become: true",
                why=_("Root for tasks that do not need it widens what a mistake can break."),
                fix=_("Remove become from this task."),
                refs=("become",),
            )


@rule
def no_dry_run(parsed: Parsed) -> Iterator[Finding]:
    for task in parsed.tasks:
        if task.short_module not in COMMANDS:
            continue
        check_mode = task.keyword("check_mode")
        has_guard = task.arg("creates") is not None or task.arg("removes") is not None
        if check_mode is not None and not y.truthy(check_mode):
            if (
                task.keyword("changed_when") is None
                or (y.text(task.keyword("changed_when")) or "").lower() != "false"
            ):
                yield Finding(
                    Severity.WARNING,
                    "ansible.check-mode-forced",
                    _("'%(task)s' runs for real even under --check (check_mode: false).")
                    % {"task": task.name},
                    line=y.line_of(check_mode),
                    where=_where(task),
                    evidence="check_mode: false",
                    why=_("A dry run of this playbook changes the hosts."),
                    fix=_(
                        "Keep check_mode: false only for read-only commands, and mark them "
                        "changed_when: false."
                    ),
                    refs=("check_mode", "playbooks_checkmode"),
                )
            continue
        if check_mode is None and not has_guard:
            yield Finding(
                Severity.WARNING,
                "ansible.no-dry-run",
                _("'%(task)s' is skipped by --check: a dry run cannot show what it would change.")
                % {"task": task.name},
                line=task.line,
                where=_where(task),
                evidence=task.free_form()[:200],
                why=_(
                    "Reviewers rely on ansible-playbook --check --diff to see a change before it "
                    "ships; this task is invisible there."
                ),
                fix=_(
                    "Use a module with check mode support, or give the command creates:/removes:; "
                    "a read-only command can be marked check_mode: false and changed_when: false."
                ),
                refs=("check_mode", "--diff", "playbooks_checkmode"),
            )


def _secrets(
    node: yaml.Node | None, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], yaml.Node]]:
    """(key path, value node) of literal values stored under secret-looking keys, and of
    values that look like keys or tokens wherever they are."""
    if isinstance(node, yaml.MappingNode):
        for key, _k, value in y.items(node):
            here = (*path, key)
            if isinstance(value, yaml.ScalarNode):
                literal = value.tag != "!vault" and "{{" not in str(value.value)
                text = str(value.value)
                if (
                    literal
                    and SECRET_VALUE.search(text)
                    or (
                        literal
                        and SECRET_KEY.search(key)
                        and not NOT_SECRET_KEY.search(key)
                        and value.tag == "tag:yaml.org,2002:str"
                        and text.strip()
                        and text.lower()
                        not in ("true", "false", "yes", "no", "always", "on_create")
                    )
                ):
                    yield here, value
            else:
                yield from _secrets(value, here)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            yield from _secrets(item, (*path, f"#{i + 1}"))
    elif isinstance(node, yaml.ScalarNode) and SECRET_VALUE.search(str(node.value)):
        yield path, node


@rule
def plaintext_secrets(parsed: Parsed) -> Iterator[Finding]:
    for parts, value in _secrets(parsed.root):
        path = _pretty(parts, parsed.kind)
        shown = str(value.value)
        masked = (shown[:2] + "…" + f" ({len(shown)})") if len(shown) > 4 else "****"
        yield Finding(
            Severity.ERROR,
            "ansible.plaintext-secret",
            _("A secret is written in plain text at %(path)s.") % {"path": path},
            line=y.line_of(value),
            where=path,
            evidence=f"{parts[-1] if parts else ''}: {masked}",
            why=_("Everyone who can read the repository, and every log of it, has the secret."),
            fix=_(
                "Move it to ansible-vault (ansible-vault encrypt_string) or a secrets manager "
                "lookup, rotate the exposed value, and mark tasks that use it no_log: true."
            ),
            refs=("ansible-vault", "encrypt_string", "no_log"),
        )
    for task in parsed.tasks:
        if task.keyword("no_log") is not None and y.truthy(task.keyword("no_log")):
            continue
        keys = [
            k
            for k, _a, _b in y.items(task.args)
            if SECRET_KEY.search(k) and not NOT_SECRET_KEY.search(k)
        ]
        if keys:
            yield Finding(
                Severity.WARNING,
                "ansible.secret-without-no-log",
                _("'%(task)s' passes %(keys)s without no_log: true.")
                % {"task": task.name, "keys": ", ".join(keys)},
                line=task.line,
                where=_where(task),
                why=_("With -v, or when the task fails, Ansible prints its arguments to the log."),
                fix=_("Add no_log: true to the task."),
                refs=("no_log",),
            )


def _pretty(parts: tuple[str, ...], kind: str) -> str:
    """("#1", "vars", "db_password") -> "play 1 › vars › db_password"."""
    word = _("play") if kind == "playbook" else _("task")
    out = [f"{word} {p[1:]}" if i == 0 and p.startswith("#") else p for i, p in enumerate(parts)]
    return " › ".join(out)


def _names(values: yaml.Node | None) -> list[tuple[str, yaml.Node]]:
    if y.is_seq(values):
        return [(y.text(n) or "", n) for n in y.seq(values)]
    return [(y.text(values) or "", values)] if values is not None else []


@rule
def missing_handlers(parsed: Parsed) -> Iterator[Finding]:
    if parsed.kind != "playbook":
        return
    for play in parsed.plays:
        if y.get(play.node, "roles") is not None:
            continue  # a role may define the handler
        handlers: set[str] = set()
        for task in play.tasks:
            if task.section == "handlers":
                handlers.add(task.name)
                handlers.update(n for n, _node in _names(task.keyword("listen")))
        for task in play.tasks:
            for name, node in _names(task.keyword("notify")):
                if name and "{{" not in name and name not in handlers:
                    yield Finding(
                        Severity.ERROR,
                        "ansible.missing-handler",
                        _("'%(task)s' notifies '%(handler)s', but the play has no such handler.")
                        % {"task": task.name, "handler": name},
                        line=y.line_of(node),
                        where=_where(task),
                        evidence=f"notify: {name}",
                        why=_(
                            "The play fails when the task changes something, after the change "
                            "is made: the service keeps running the old configuration."
                        ),
                        fix=_("Add a handler with this name (or listen: '%(h)s') to handlers:.")
                        % {"h": name},
                        refs=("handlers", "notify", "playbooks_handlers"),
                    )
        seen_config = False
        for task in play.tasks:
            if task.section == "handlers":
                continue
            if task.short_module in CONFIG_MODULES:
                seen_config = True
            elif seen_config and restarts(task):
                yield Finding(
                    Severity.WARNING,
                    "ansible.restart-not-via-handler",
                    _("'%(task)s' restarts the service on every run instead of from a handler.")
                    % {"task": task.name},
                    line=task.line,
                    where=_where(task),
                    why=_(
                        "The restart happens even when the configuration did not change, "
                        "interrupting traffic for nothing."
                    ),
                    fix=_(
                        "Move the restart to handlers: and add notify: to the task that changes "
                        "the configuration."
                    ),
                    refs=("handlers", "notify", "playbooks_handlers"),
                )


@rule
def lookups_at_load(parsed: Parsed) -> Iterator[Finding]:
    for play in parsed.plays:
        for key in (
            "name",
            "hosts",
            "import_playbook",
            "ansible.builtin.import_playbook",
            "vars_files",
        ):
            node = y.get(play.node, key)
            values = _names(node) if key == "vars_files" else [(y.text(node) or "", node)]
            for value, vnode in values:
                if vnode is not None and _LOOKUP.search(value):
                    yield Finding(
                        Severity.WARNING,
                        "ansible.lookup-at-load",
                        _(
                            "%(key)s runs a lookup when the playbook is loaded; the review never runs it."
                        )
                        % {"key": key},
                        line=y.line_of(vnode),
                        where=play.name,
                        evidence=f"{key}: {value[:120]}",
                        why=_(
                            "Lookups in these fields run on the control node before any task, "
                            "even with --syntax-check; the syntax check here stops at this line."
                        ),
                        fix=_(
                            "Pass the value as a variable (-e or group_vars) instead of a lookup."
                        ),
                        refs=("lookup", "playbooks_lookups"),
                    )


@rule
def ignore_errors(parsed: Parsed) -> Iterator[Finding]:
    for task in parsed.tasks:
        node = task.keyword("ignore_errors")
        if node is not None and y.truthy(node):
            yield Finding(
                Severity.WARNING,
                "ansible.ignore-errors",
                _("'%(task)s' ignores every error.") % {"task": task.name},
                line=y.line_of(node),
                where=_where(task),
                why=_("A real failure is reported as ok and the play goes on on a broken host."),
                fix=_("Use failed_when: with the exact condition that is acceptable."),
                refs=("ignore_errors", "failed_when", "playbooks_error_handling"),
            )


_VALIDATE_TARGETS = re.compile(
    r"(sudoers(\.d/[^/]+)?|sshd_config|nginx\.conf|haproxy\.cfg|named\.conf)$"
)


@rule
def validate_missing(parsed: Parsed) -> Iterator[Finding]:
    for task in parsed.tasks:
        if task.short_module not in {"template", "copy", "lineinfile", "blockinfile"}:
            continue
        dest = task.arg_text("dest") or task.arg_text("path") or ""
        if _VALIDATE_TARGETS.search(dest) and task.arg("validate") is None:
            yield Finding(
                Severity.WARNING,
                "ansible.validate-missing",
                _("'%(task)s' writes %(dest)s without validate:.")
                % {"task": task.name, "dest": dest},
                line=task.line,
                where=_where(task),
                why=_(
                    "A broken sudoers or sshd_config locks everyone out; a broken proxy config "
                    "stops the next reload."
                ),
                fix=_("Add validate: (e.g. 'visudo -cf %s', 'sshd -t -f %s', 'nginx -t -c %s')."),
                refs=("validate", short(task.module)),
            )
