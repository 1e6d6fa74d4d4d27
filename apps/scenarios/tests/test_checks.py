"""The blocks of a model's answer that checks run on, and what a scenario without a checker
says about them."""

from __future__ import annotations

from apps.scenarios.engine import registry
from apps.scenarios.engine.base import Analysis
from apps.scenarios.engine.checks import Check, Verdict, code_blocks

ANSWER = """The alias lets requests escape [1]. Change it to:

```nginx
location /static/ {
    alias /srv/static/;
}
```

Then check it:

~~~~bash title="check"
nginx -t
```not a fence inside tildes```
~~~~

  ```
  indented fence
    keeps relative indent
  ```

An unclosed one:
```yaml
a: 1
"""


def test_fenced_blocks_are_found_with_their_language_and_line() -> None:
    blocks = code_blocks(ANSWER)
    assert [(b.index, b.lang, b.line) for b in blocks] == [
        (0, "nginx", 3),
        (1, "bash", 11),
        (2, "", 16),
        (3, "yaml", 22),
    ]
    assert blocks[0].code == "location /static/ {\n    alias /srv/static/;\n}\n"
    assert blocks[1].code == "nginx -t\n```not a fence inside tildes```\n"
    assert blocks[2].code == "indented fence\n  keeps relative indent\n"
    assert blocks[3].code == "a: 1\n"  # runs to the end, as CommonMark renders it
    assert code_blocks("no code here, only `inline`") == []


def test_a_scenario_without_a_checker_offers_nothing_as_ready() -> None:
    checks = registry.get("ceph-health").check_answer(ANSWER, Analysis([]))
    assert [c.verdict for c in checks] == [Verdict.UNCHECKED] * 4
    assert not any(c.ready for c in checks)
    stored = [c.to_dict() for c in checks]
    assert [Check.from_dict(d) for d in stored] == checks
