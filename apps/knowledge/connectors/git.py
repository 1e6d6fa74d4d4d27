"""A Git repository: cloned (or pulled) with the git CLI into var/git/<source id>.

Settings: url (a remote URL or a local path), branch, include/exclude globs, web_url (a link
template such as https://git.example/ops/runbooks/-/blob/{commit}/{path}). A token, if set,
goes to git as an HTTP Authorization header through the environment, never on the command
line. The document version is the commit SHA; links point at the file at that commit.
"""

from __future__ import annotations

import fnmatch
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings

from apps.knowledge import parsing
from apps.knowledge.connectors import (
    Connector,
    ConnectorError,
    DocRef,
    Fetched,
    FetchError,
    max_bytes,
    too_big,
)

GIT_TIMEOUT = 600


class GitConnector(Connector):
    def checkout(self) -> Path:
        return Path(settings.VAR_DIR) / "git" / str(self.source.pk)

    def _git(self, *args: str, cwd: Path | None = None) -> str:
        env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "true"}
        token = self.secrets.get("token")
        if token:
            env.update(
                {
                    "GIT_CONFIG_COUNT": "1",
                    "GIT_CONFIG_KEY_0": "http.extraHeader",
                    "GIT_CONFIG_VALUE_0": f"Authorization: Bearer {token}",
                }
            )
        try:
            done = subprocess.run(
                ["git", *args],
                cwd=cwd,
                env=env,
                capture_output=True,
                text=True,
                timeout=GIT_TIMEOUT,
            )
        except subprocess.TimeoutExpired:
            raise ConnectorError(f"git {args[0]} took longer than {GIT_TIMEOUT} s") from None
        if done.returncode != 0:
            message = (done.stderr or done.stdout).strip().splitlines()
            detail = message[-1] if message else f"exit code {done.returncode}"
            if token:
                detail = detail.replace(token, "***")
            raise ConnectorError(f"git {args[0]} failed: {detail}")
        return done.stdout

    def _update(self) -> str:
        url = str(self.settings.get("url", "")).strip()
        branch = str(self.settings.get("branch", "")).strip()
        if not url:
            raise ConnectorError("the Git source has no URL")
        work = self.checkout()
        if (work / ".git").is_dir() and self._git(
            "remote", "get-url", "origin", cwd=work
        ).strip() == url:
            ref = branch or "HEAD"
            self._git("fetch", "--quiet", "--depth", "1", "origin", ref, cwd=work)
            self._git("reset", "--quiet", "--hard", "FETCH_HEAD", cwd=work)
        else:
            shutil.rmtree(work, ignore_errors=True)
            work.parent.mkdir(parents=True, exist_ok=True)
            args = ["clone", "--quiet", "--depth", "1", "--single-branch"]
            if branch:
                args += ["--branch", branch]
            self._git(*args, url, str(work))
        return self._git("rev-parse", "HEAD", cwd=work).strip()

    def _link(self, commit: str, path: str) -> str:
        template = str(self.settings.get("web_url", "")).strip()
        if template:
            return template.format(commit=commit, path=path)
        url = str(self.settings.get("url", "")).strip()
        if url.startswith(("https://", "http://")):
            return f"{url.removesuffix('.git').rstrip('/')}/blob/{commit}/{path}"
        return ""  # a local path has no web view

    def list_documents(self) -> Iterator[DocRef]:
        self.commit = self._update()
        work = self.checkout()
        include = list(self.settings.get("include") or [])
        exclude = list(self.settings.get("exclude") or [])
        listing = self._git("ls-files", "-z", cwd=work)
        for rel in sorted(p for p in listing.split("\0") if p):
            if include and not any(fnmatch.fnmatch(rel, g) for g in include):
                continue
            if any(fnmatch.fnmatch(rel, g) for g in exclude) or not parsing.supported(rel):
                continue
            full = work / rel
            if not full.is_file():
                continue
            yield DocRef(
                external_id=rel,
                version=self.commit,
                path=rel,
                link=self._link(self.commit, rel),
                size=full.stat().st_size,
            )

    def fetch(self, ref: DocRef) -> Fetched:
        full = self.checkout() / ref.external_id
        try:
            size = full.stat().st_size
            if size > max_bytes():
                raise too_big(size)
            return Fetched(data=full.read_bytes(), name=full.name, link=ref.link)
        except OSError as exc:
            raise FetchError(f"cannot read the file: {exc.strerror or exc}") from None
