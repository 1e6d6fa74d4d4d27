"""A config directory as one bundle text: an uploaded .tar(.gz/.bz2/.xz) or .zip, or a
directory named on the command line, turned into the `==> name <==` format the review reads.

Archives are hostile input like any other: only regular files are taken (links, devices and
FIFOs are refused by name), names must stay inside the archive, and sizes are checked from
the headers before anything is unpacked, then again while reading, so a compression bomb
costs at most MAX_INPUT_BYTES.
"""

from __future__ import annotations

import io
import posixpath
import tarfile
import zipfile
from pathlib import Path

from django.utils.translation import gettext as _

from apps.scenarios.engine.base import MAX_INPUT_BYTES, InputError
from apps.scenarios.proxy_config.bundle import MAIN_NAMES, MAX_FILES

MAX_ENTRIES = 512  # directories included: an archive of thousands of entries is not a config


def is_archive(data: bytes) -> bool:
    return (
        data[:2] == b"\x1f\x8b"  # gzip
        or data[:3] == b"BZh"
        or data[:6] == b"\xfd7zXZ\x00"
        or data[:4] == b"PK\x03\x04"
        or data[257:262] == b"ustar"
    )


def _skipped(name: str) -> bool:
    """Hidden files and directories (.git, editors' swap files, macOS's ._ and __MACOSX)."""
    return any(p.startswith(".") or p == "__MACOSX" for p in name.split("/"))


def _name(raw: str, field: str) -> str:
    name = raw.replace("\\", "/")
    while name.startswith("./"):
        name = name[2:]
    norm = posixpath.normpath(name) if name else ""
    if not name or name.startswith("/") or norm.startswith("..") or norm != name.rstrip("/"):
        raise InputError(
            _("%(name)s in the archive leaves it: only names inside it are read") % {"name": raw},
            field=field,
        )
    return norm


def _decode(name: str, data: bytes, field: str) -> str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(
            _("%(name)s is not UTF-8 text (byte %(n)d)") % {"name": name, "n": exc.start},
            field=field,
        ) from None
    if "\x00" in text:
        raise InputError(_("%(name)s is binary, not text") % {"name": name}, field=field)
    return text


class _Budget:
    def __init__(self, field: str) -> None:
        self.left = MAX_INPUT_BYTES
        self.files = 0
        self.field = field

    def take(self, name: str, size: int) -> None:
        self.files += 1
        self.left -= size
        if self.files > MAX_FILES:
            raise InputError(
                _("the archive has more than %(max)d files") % {"max": MAX_FILES}, field=self.field
            )
        if self.left < 0:
            raise InputError(
                _("the files unpack to more than %(max)d MB (at %(name)s)")
                % {"max": MAX_INPUT_BYTES // 1048576, "name": name},
                field=self.field,
            )


def _from_tar(data: bytes, field: str) -> dict[str, str]:
    files: dict[str, str] = {}
    budget = _Budget(field)
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tar:
            for count, member in enumerate(tar):
                if count >= MAX_ENTRIES:
                    raise InputError(_("the archive has too many entries"), field=field)
                if member.isdir():
                    continue
                name = _name(member.name, field)
                if _skipped(name):
                    continue
                if not member.isfile():
                    raise InputError(
                        _("%(name)s is a link or a device; only regular files are read")
                        % {"name": member.name},
                        field=field,
                    )
                budget.take(name, member.size)
                handle = tar.extractfile(member)
                content = handle.read(member.size + 1) if handle else b""
                files[name] = _decode(name, content[: member.size], field)
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise InputError(
            _("the archive cannot be read: %(error)s") % {"error": exc}, field=field
        ) from None
    return files


def _from_zip(data: bytes, field: str) -> dict[str, str]:
    files: dict[str, str] = {}
    budget = _Budget(field)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
            if len(infos) > MAX_ENTRIES:
                raise InputError(_("the archive has too many entries"), field=field)
            for info in infos:
                if info.is_dir():
                    continue
                name = _name(info.filename, field)
                if _skipped(name):
                    continue
                if (info.external_attr >> 16) & 0o170000 not in (0, 0o100000):
                    raise InputError(
                        _("%(name)s is a link or a device; only regular files are read")
                        % {"name": info.filename},
                        field=field,
                    )
                budget.take(name, info.file_size)
                with archive.open(info) as handle:
                    # the header's size may lie: never read more than it promised
                    content = handle.read(info.file_size + 1)
                if len(content) > info.file_size:
                    raise InputError(
                        _("%(name)s is larger than its header says") % {"name": name}, field=field
                    )
                files[name] = _decode(name, content, field)
    except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError) as exc:
        raise InputError(
            _("the archive cannot be read: %(error)s") % {"error": exc}, field=field
        ) from None
    return files


def _common_prefix(files: dict[str, str]) -> dict[str, str]:
    """`etc/nginx/nginx.conf` and `etc/nginx/conf.d/a.conf` -> `nginx.conf`, `conf.d/a.conf`:
    an archive made of the directory itself keeps the directory's name in every path."""
    parts = [n.split("/") for n in files]
    common: list[str] = []
    for level in zip(*(p[:-1] for p in parts), strict=False):
        if len(set(level)) != 1:
            break
        common.append(level[0])
    cut = len("/".join(common)) + 1 if common else 0
    return {n[cut:]: t for n, t in files.items()}


def as_bundle(files: dict[str, str], field: str) -> str:
    """The `==> name <==` text of `files`, the main config first."""
    if not files:
        raise InputError(_("the archive has no files"), field=field)
    files = _common_prefix(files)
    mains = [n for n in files if posixpath.basename(n) in MAIN_NAMES.values()]
    first = sorted(mains, key=lambda n: (n.count("/"), n))[:1]
    order = first + sorted(n for n in files if n not in first)
    return "\n".join(f"==> {n} <==\n{files[n].rstrip(chr(10))}\n" for n in order)


def archive_text(data: bytes, field: str = "upload") -> str:
    files = _from_zip(data, field) if data[:4] == b"PK\x03\x04" else _from_tar(data, field)
    return as_bundle(files, field)


def directory_text(path: Path) -> str:
    """A config directory on the command line's machine as one bundle: regular files only,
    links not followed, the same limits as an archive."""
    files: dict[str, str] = {}
    budget = _Budget("file")
    for entry in sorted(path.rglob("*")):
        if entry.is_symlink() or not entry.is_file():
            continue
        name = entry.relative_to(path).as_posix()
        if _skipped(name):
            continue
        budget.take(name, entry.stat().st_size)
        files[name] = _decode(name, entry.read_bytes(), "file")
    return as_bundle(files, "file")
