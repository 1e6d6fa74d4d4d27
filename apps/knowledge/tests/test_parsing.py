"""Parsers keep structure: heading paths as sections, code and tables whole."""

from __future__ import annotations

import io

import pytest

from apps.knowledge.ingest.chunking import chunk_blocks, count_tokens
from apps.knowledge.ingest.parsing import CODE, TABLE, ParseError, parse


def minimal_pdf(text: str) -> bytes:
    """A one-page PDF with real text content, written by hand (no PDF library here)."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for n, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % n + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for off in offsets:
        out.write(b"%010d 00000 n \n" % off)
    out.write(
        b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    )
    return out.getvalue()


def test_markdown_sections_code_and_tables_stay_whole() -> None:
    code = "\n".join(f"kubectl get pods -n ns{i}" for i in range(120))
    table = "| a | b |\n|---|---|\n" + "\n".join(f"| row{i} | value{i} |" for i in range(60))
    words = " ".join(f"word{i}" for i in range(600))
    md = f"---\ntitle: Front title\n---\n# Pods\n\nIntro.\n\n## Restart\n\n```bash\n{code}\n```\n\n{table}\n\n### Deep\n\n{words}\n"
    parsed = parse(md.encode(), "x.md")
    assert parsed.title == "Front title"
    kinds = {b.kind for b in parsed.blocks}
    assert CODE in kinds and TABLE in kinds
    chunks = chunk_blocks(parsed.blocks)
    code_chunks = [c for c in chunks if "kubectl get pods -n ns0" in c.text]
    assert len(code_chunks) == 1 and "ns119" in code_chunks[0].text  # not split
    assert code_chunks[0].section == ("Pods", "Restart")
    table_chunks = [c for c in chunks if "row0" in c.text]
    assert len(table_chunks) == 1 and "row59" in table_chunks[0].text
    deep = [c for c in chunks if c.section == ("Pods", "Restart", "Deep")]
    assert len(deep) >= 3 and all(count_tokens(c.text) <= 320 for c in deep)
    # Overlap: the end of one prose chunk opens the next.
    assert deep[0].text.split()[-1] in deep[1].text


def test_rst_via_docutils() -> None:
    rst = b"Title\n=====\n\nIntro text.\n\nSection A\n---------\n\nSome prose about :ref:`x`.\n\n.. code-block:: yaml\n\n   key: value\n\n"
    parsed = parse(rst, "guide.rst")
    assert parsed.title == "Title"
    assert any(b.section[-1] == "Section A" and "prose" in b.text for b in parsed.blocks)
    assert any(b.kind == CODE and "key: value" in b.text for b in parsed.blocks)


def test_nginx_xml_directives() -> None:
    xml = b"""<?xml version="1.0"?>
<!DOCTYPE module SYSTEM "../../../../dtd/module.dtd">
<module name="Module ngx_http_limit_req_module" link="/en/docs/x.html" lang="en">
<section id="directives" name="Directives">
<directive name="limit_req">
<syntax><literal>zone</literal>=<value>name</value></syntax>
<default/>
<context>http</context>
<para>Sets the shared memory zone&nbsp;and burst.</para>
<para><example>limit_req zone=one burst=5;</example></para>
</directive>
</section>
</module>"""
    parsed = parse(xml, "ngx_http_limit_req_module.xml")
    assert parsed.title == "Module ngx_http_limit_req_module"
    assert any(
        b.section == ("Directives", "limit_req") and "Context: http" in b.text
        for b in parsed.blocks
    )
    assert any(b.kind == CODE and "burst=5" in b.text for b in parsed.blocks)


def test_html_text_pdf_docx() -> None:
    html = b"<html><head><title>T</title><script>x()</script></head><body><h1>Head</h1><p>Hello there</p><pre>code here</pre></body></html>"
    parsed = parse(html, "p.html")
    assert parsed.title == "T" and any("Hello there" in b.text for b in parsed.blocks)
    assert not any("x()" in b.text for b in parsed.blocks)

    txt = b"1. Intro\n\nSome words.\n\n5.2. Server options\n\nThe check parameter.\n"
    parsed = parse(txt, "management.txt")
    assert any(b.section[-1:] == ("5.2. Server options",) for b in parsed.blocks)

    parsed = parse(minimal_pdf("Ceph OSD replacement"), "guide.pdf")
    assert any("Ceph OSD replacement" in b.text for b in parsed.blocks)

    import docx

    document = docx.Document()
    document.add_heading("Runbook", level=1)
    document.add_paragraph("Drain the node first.")
    table = document.add_table(rows=1, cols=2)
    table.rows[0].cells[0].text = "host"
    table.rows[0].cells[1].text = "node-1"
    buf = io.BytesIO()
    document.save(buf)
    parsed = parse(buf.getvalue(), "r.docx")
    assert any(b.section == ("Runbook",) and "Drain" in b.text for b in parsed.blocks)
    assert any(b.kind == TABLE and "node-1" in b.text for b in parsed.blocks)


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (b"", "empty.md", "empty"),
        (b"   \n\n", "blank.txt", "empty"),
        (bytes(range(256)) * 20, "junk.md", "binary"),
        (b"%PDF-1.4 this is not really a pdf", "broken.pdf", "PDF"),
        (b"PK\x03\x04 not a zip", "broken.docx", "DOCX"),
        (b"data", "archive.tar", "unsupported"),
    ],
)
def test_bad_documents_get_clear_errors(data: bytes, name: str, message: str) -> None:
    with pytest.raises(ParseError, match=message):
        parse(data, name)


def test_csv_tables_repeat_the_header_and_refuse_a_runaway_field() -> None:
    rows = "\n".join(f"host-{n},10.0.0.{n},rack-{n % 3}" for n in range(60))
    parsed = parse(f"host,address,rack\n{rows}\n".encode(), "inventory.csv")
    assert [b.kind for b in parsed.blocks] == [TABLE, TABLE, TABLE]  # 25 rows to a block
    assert all(b.text.startswith("host | address | rack\n") for b in parsed.blocks)
    assert "host-59 | 10.0.0.59 | rack-2" in parsed.blocks[-1].text
    with pytest.raises(ParseError, match="not valid CSV"):
        parse(b'a,b\n"' + b"x" * 200_000 + b'",1\n', "huge.csv")
