"""proxy-config reading a whole config directory: a .tar.gz or .zip uploaded on the page, or
a directory on the command line; hostile archives refused by the member's name."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import translation

from apps.scenarios.engine.base import InputError
from apps.scenarios.models import Run
from apps.scenarios.proxy_config.archive import archive_text
from apps.scenarios.tests.proxy_helpers import analyze, only

MAIN = "events {}\nhttp {\n    include /etc/nginx/conf.d/*.conf;\n}\n"
SITE = "server {\n    listen 80;\n    location / { proxy_pass http://127.0.0.1:8080; proxy_buffer 4k; }\n}\n"


def _tar(entries: list[tuple[str, bytes | None, bytes]], mode: str = "w:gz") -> bytes:
    """(name, content or None for a symlink, link target) into a tar archive."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode=mode) as tar:  # type: ignore[call-overload]
        for name, content, target in entries:
            info = tarfile.TarInfo(name)
            if content is None:
                info.type, info.linkname = tarfile.SYMTYPE, target.decode()
                tar.addfile(info)
            else:
                info.size = len(content)
                tar.addfile(info, io.BytesIO(content))
    return out.getvalue()


def _zip(entries: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    return out.getvalue()


def test_an_uploaded_tar_of_etc_nginx_is_reviewed_as_one_config(
    member_client: Client, member
) -> None:
    data = _tar(
        [
            ("etc/nginx/nginx.conf", MAIN.encode(), b""),
            ("etc/nginx/conf.d/app.conf", SITE.encode(), b""),
            ("etc/nginx/.git/HEAD", b"ref: refs/heads/main\n", b""),
        ]
    )
    upload = SimpleUploadedFile("nginx.tar.gz", data)
    url = reverse("scenarios:page", args=["proxy-config"])
    response = member_client.post(url, {"mode": "upload", "upload": upload})
    assert response.status_code == 302, response.content.decode()[-2000:]
    run = Run.objects.get(user=member)
    assert run.input_text.startswith("==> nginx.conf <==\n")
    assert run.facts["files"] == ["nginx.conf", "conf.d/app.conf"]  # .git left out
    check = next(f for f in run.findings if f["rule"] == "nginx.check")
    assert check["where"] == "conf.d/app.conf:3"
    assert run.input_text.splitlines()[check["line"] - 1].strip().startswith("location /")


def test_a_zip_of_a_haproxy_directory_is_reviewed() -> None:
    data = _zip(
        {
            "haproxy/haproxy.cfg": b"defaults\n    mode http\n    timeout connect 5s\n",
            "haproxy/conf.d/web.cfg": b"backend app\n    server a1 10.0.0.1:80\n",
        }
    )
    analysis = analyze(archive_text(data))
    assert analysis.facts["kind"] == "haproxy"
    assert analysis.facts["files"] == ["haproxy.cfg", "conf.d/web.cfg"]
    assert only(analysis, "haproxy.no-health-check").where == "conf.d/web.cfg:2"


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (_tar([("nginx.conf", None, b"/etc/shadow")]), "link"),
        (_tar([("../../etc/cron.d/x", b"* * * * * root id\n", b"")]), "../../etc/cron.d/x"),
        (_tar([("/etc/nginx/nginx.conf", MAIN.encode(), b"")]), "/etc/nginx/nginx.conf"),
        (_zip({"/abs.conf": b"events {}\n"}), "/abs.conf"),
        (_zip({f"conf.d/{i}.conf": b"server {}\n" for i in range(100)}), "64"),
        (_tar([("bin.conf", b"\x00\x01\x02", b"")]), "bin.conf is binary"),
        (_tar([("latin1.conf", b"caf\xe9\n", b"")]), "UTF-8"),
        (b"\x1f\x8b" + b"not really gzip", "cannot be read"),
    ],
)
def test_hostile_archives_are_refused_by_the_members_name(data: bytes, words: str) -> None:
    with pytest.raises(InputError) as info, translation.override("en"):
        archive_text(data)
    assert words in info.value.message


def test_compression_bombs_are_refused_from_the_headers() -> None:
    zeros = b"\0" * (50 * 1024 * 1024)
    for data in (_zip({"big.conf": zeros}), _tar([("big.conf", zeros, b"")])):
        assert len(data) < 1024 * 1024  # small on the wire
        started = time.monotonic()
        with pytest.raises(InputError, match="MB"), translation.override("en"):
            archive_text(data)
        assert time.monotonic() - started < 5


def test_cli_reads_a_config_directory_without_following_links(tmp_path: Path) -> None:
    root = tmp_path / "nginx"
    (root / "conf.d").mkdir(parents=True)
    (root / "nginx.conf").write_text(MAIN)
    (root / "conf.d" / "app.conf").write_text(SITE)
    (root / "conf.d" / "secret.conf").symlink_to("/etc/shadow")
    result = subprocess.run(
        [sys.executable, str(settings.BASE_DIR / "manage.py"), "scenario", "analyze",
         "proxy-config", str(root), "--json"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    out = json.loads(result.stdout)
    assert out["files"] == ["nginx.conf", "conf.d/app.conf"]
    check = next(f for f in out["findings"] if f["rule"] == "nginx.check")
    assert check["where"] == "conf.d/app.conf:3"
