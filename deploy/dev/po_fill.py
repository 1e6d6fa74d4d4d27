"""Fill empty Russian translations in locale/ru/LC_MESSAGES/django.po from a JSON file.

Usage: python deploy/dev/po_fill.py FILE.json   (JSON object: English msgid -> Russian text)
Run `manage.py makemessages -l ru` first. Prints the msgids still untranslated. A fuzzy
guess of makemessages is replaced when the file translates its msgid.
Plural forms are left to hand editing.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

PO = Path(__file__).resolve().parents[2] / "locale/ru/LC_MESSAGES/django.po"


def _unquote(lines: list[str]) -> str:
    return "".join(json.loads(line) for line in lines)


def _quote(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def fill(translations: dict[str, str]) -> list[str]:
    blocks = PO.read_text().split("\n\n")
    missing: list[str] = []
    out = []
    for block in blocks:
        m = re.search(r'^msgid ((?:".*"\n?)+)', block, re.M)
        s = re.search(r'^msgstr ((?:".*"\n?)+)', block, re.M)
        if not m or not s or "msgid_plural" in block:
            out.append(block)
            continue
        msgid = _unquote(m.group(1).strip().splitlines())
        msgstr = _unquote(s.group(1).strip().splitlines())
        # makemessages guesses a translation from a similar msgid and marks it fuzzy; a
        # translation given in the file replaces the guess.
        fuzzy = "#, fuzzy" in block
        if fuzzy and msgid in translations:
            block = re.sub(r"^#\| .*\n", "", block, flags=re.M)
            s = re.search(r'^msgstr ((?:".*"\n?)+)', block, re.M)
            assert s is not None
            msgstr = ""
        if msgid and not msgstr:
            if msgid in translations:
                block = (
                    block[: s.start()]
                    + "msgstr "
                    + _quote(translations[msgid])
                    + ("\n" if s.group(1).endswith("\n") else "")
                    + block[s.end() :]
                )
                block = block.replace("#, fuzzy\n", "").replace("#, fuzzy, ", "#, ")
            else:
                missing.append(msgid)
        out.append(block)
    PO.write_text("\n\n".join(out))
    return missing


if __name__ == "__main__":
    data = json.loads(Path(sys.argv[1]).read_text())
    for msgid in fill(data):
        print("untranslated:", msgid)
