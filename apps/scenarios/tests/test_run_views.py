"""A run's explanation controls and what the page shows of it: asking (again), feedback, and
the checks of the code blocks, where only what passed is offered to copy."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from apps.scenarios import actions, explanation
from apps.scenarios.engine import registry
from apps.scenarios.engine.checks import Check, Verdict
from apps.scenarios.models import Run
from apps.scenarios.tests.test_explanation import make_run

pytestmark = pytest.mark.django_db

ANSWER = """End both with a slash [1]:

```nginx
server {
    listen 80;
    server_tokens off;
    location /static/ {
        alias /srv/static/;
    }
}
```

not:

```nginx
server {
    listen 80;
    location /static {
        alias /srv/static/
    }
}
```

then:

```bash
nginx -s reload
```
"""


def explained(run: Run, checks: list[Check]) -> Run:
    """A run whose explanation was written (as explanation.Explanation stores it)."""
    assert actions.begin_explanation(run.pk, "") is not None
    actions.finish_explanation(
        run.pk,
        ANSWER,
        3,
        {
            "status": Run.Status.COMPLETE,
            "model": "gemma-3-270m",
            "tier": "fast",
            "tokens_per_s": 21.5,
            "completion_tokens": 40,
            "checks": actions.checks_as_data(checks),
        },
    )
    run.refresh_from_db()
    return run


def test_only_what_passed_its_check_is_offered_to_copy(member_client: Client, member) -> None:
    run = make_run(member)
    # The scenario's own checker (proxy-config: the real nginx -t and its rules) on the
    # answer's blocks, as the explanation runs it when the model is done.
    checks = registry.get("proxy-config").check_answer(ANSWER, explanation.analysis_of(run))
    assert [c.verdict for c in checks] == [Verdict.PASSED, Verdict.FAILED, Verdict.UNCHECKED]
    explained(run, checks)
    html = member_client.get(reverse("scenarios:run", args=["proxy-config", run.pk])).content
    page = html.decode()
    passed = page[page.index('id="check-0"') : page.index('id="check-1"')]
    failed = page[page.index('id="check-1"') : page.index('id="check-2"')]
    unchecked = page[page.index('id="check-2"') :].split("</section>")[0]
    assert "data-copy" in passed and "nginx -t" in passed and "прошло" in passed
    assert "data-copy" not in failed and "is not terminated by" in failed
    assert "data-copy" not in unchecked and "не проверено" in unchecked
    assert "gemma-3-270m" in page and "21,5" in page  # the model and its speed, in Russian


def test_asking_for_an_explanation_again(
    member_client: Client, outsider_client: Client, member
) -> None:
    run = make_run(member, explain=False)
    assert run.status == Run.Status.NONE
    url = reverse("scenarios:explain", args=["proxy-config", run.pk])
    assert member_client.get(url).status_code == 405
    assert outsider_client.post(url).status_code == 404
    response = member_client.post(url)
    run.refresh_from_db()
    assert response.status_code == 302 and run.status == Run.Status.PENDING
    # Asked twice, it is still one explanation.
    follow = member_client.post(url, follow=True)
    assert "сначала остановите" in follow.content.decode()


def test_feedback_on_the_explanation(
    member_client: Client, outsider_client: Client, member
) -> None:
    run = make_run(member)
    url = reverse("scenarios:feedback", args=["proxy-config", run.pk])
    early = member_client.post(url, {"rating": "1"}, headers={"HX-Request": "true"})
    assert early.status_code == 400  # nothing written yet to rate
    explained(run, [])
    assert member_client.get(url).status_code == 405
    assert outsider_client.post(url, {"rating": "-1"}).status_code == 404
    response = member_client.post(
        url, {"rating": "-1", "comment": "cites nothing"}, headers={"HX-Request": "true"}
    )
    run.refresh_from_db()
    assert response.status_code == 200 and (run.rating, run.comment) == (-1, "cites nothing")
    assert 'class="fb-down chosen"' in response.content.decode()
    bad = member_client.post(url, {"rating": "5"}, headers={"HX-Request": "true"})
    assert bad.status_code == 400


def test_admins_read_the_feedback_on_explanations(
    admin_client: Client, member_client: Client, outsider_client: Client, member
) -> None:
    rated = explained(make_run(member), [])
    actions.set_feedback(rated, -1, "the fix is for HAProxy, not nginx")
    explained(make_run(member), [])  # not rated: not listed
    url = reverse("scenarios_console:feedback")
    page = admin_client.get(url).content.decode()
    assert "the fix is for HAProxy, not nginx" in page and page.count('class="fb-row"') == 1
    assert "Nginx и HAProxy" in page and "gemma-3-270m" in page
    helpful = admin_client.get(url, {"rating": "1"}, headers={"HX-Request": "true"})
    assert 'class="fb-row"' not in helpful.content.decode()
    assert admin_client.post(url).status_code == 405
    assert member_client.get(url).status_code == 403 and outsider_client.get(url).status_code == 403
