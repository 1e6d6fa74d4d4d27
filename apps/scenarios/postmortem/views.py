"""The page that turns a drafted timeline into a published post-mortem: the template filled
from the run, the author edits, chooses who may read it and publishes."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.accounts.roles import is_portal_admin, user_group_names
from apps.scenarios.engine.base import InputError
from apps.scenarios.models import Run
from apps.scenarios.postmortem import confluence, drafting, publish, templates
from apps.scenarios.postmortem.models import PublishedPostmortem
from common.http import HtmxHttpRequest


class PublishForm(forms.Form):
    title = forms.CharField(label=gettext_lazy("Title"), max_length=300)
    incident = forms.CharField(
        label=gettext_lazy("Incident number"), max_length=100, required=False
    )
    body = forms.CharField(
        label=gettext_lazy("Post-mortem (Markdown)"),
        widget=forms.Textarea(attrs={"rows": 30, "class": "mono", "spellcheck": "true"}),
    )
    groups = forms.MultipleChoiceField(
        label=gettext_lazy("Who may read it"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=gettext_lazy("No group: every signed-in user."),
    )

    def __init__(self, *args: Any, user: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from django.contrib.auth.models import Group

        names = (
            list(Group.objects.order_by("name").values_list("name", flat=True))
            if is_portal_admin(user)
            else sorted(user_group_names(user))
        )
        field = self.fields["groups"]
        assert isinstance(field, forms.MultipleChoiceField)
        field.choices = [(n, n) for n in names]


@require_http_methods(["GET", "POST"])
def publish_page(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    run = get_object_or_404(Run, pk=pk, scenario="postmortem", user_id=request.user.pk)
    if request.method == "POST":
        form = PublishForm(request.POST, user=request.user)
        if form.is_valid():
            try:
                row = publish.publish(
                    request.user,
                    title=form.cleaned_data["title"],
                    body=form.cleaned_data["body"],
                    groups=form.cleaned_data["groups"],
                    incident=form.cleaned_data["incident"],
                    run=run,
                )
            except InputError as exc:
                form.add_error("body", exc.message)
            else:
                messages.success(
                    request,
                    _("Published to %(source)s as %(path)s and indexed.")
                    % {"source": row.source.name if row.source else "", "path": row.path},
                )
                if row.confluence_error:
                    messages.warning(
                        request,
                        _("The Confluence copy failed: %(reason)s")
                        % {"reason": row.confluence_error},
                    )
                return redirect("postmortem:published", pk=row.pk)
    elif earlier := PublishedPostmortem.objects.filter(run=run).first():
        # Published before: edit what was published; publishing again updates it.
        form = PublishForm(
            initial={
                "title": earlier.title,
                "incident": earlier.incident,
                "body": earlier.body,
                "groups": earlier.groups,
            },
            user=request.user,
        )
    else:
        title = _("Post-mortem: %(what)s") % {"what": run.title or run.input_name or run.pk}
        language = translation.get_language() or "ru"
        body = templates.fill(run.facts, language, title)
        if run.status == Run.Status.COMPLETE:
            # The sections the model drafted on the run page, those whose citations hold.
            body = drafting.apply(body, drafting.drafted(run.answer, run.facts), language)
        form = PublishForm(initial={"title": title, "body": body}, user=request.user)
    context = {
        "form": form,
        "run": run,
        "earlier": PublishedPostmortem.objects.filter(run=run).first(),
        "confluence": confluence.configured(),
    }
    return render(request, "scenarios/postmortem_publish.html", context)


def published(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    from apps.knowledge.search.retrieval import readable_source_ids
    from apps.scenarios.postmortem.models import Announcement

    row = get_object_or_404(PublishedPostmortem, pk=pk)
    if row.source_id not in readable_source_ids(request.user):
        raise PermissionDenied
    announced = Announcement.objects.filter(source_id=row.source_id, external_id=row.path).first()
    return render(
        request, "scenarios/postmortem_published.html", {"row": row, "announced": announced}
    )


@require_GET
def summaries(request: HtmxHttpRequest) -> HttpResponse:
    """Post-mortems that appeared in post-mortem sources, with their summaries and where they
    were posted; only those of sources the user may read."""
    from django.core.paginator import Paginator

    from apps.knowledge.search.retrieval import readable_source_ids
    from apps.scenarios.postmortem.models import Announcement, Digest

    rows = Announcement.objects.filter(source_id__in=readable_source_ids(request.user))
    page = Paginator(rows.select_related("source"), 30).get_page(request.GET.get("page"))
    digests = Digest.objects.all()[:4]
    return render(
        request, "scenarios/postmortem_summaries.html", {"page": page, "digests": digests}
    )


@require_POST
def incident_draft(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """The closed incident's post-mortem drafted as the viewer's own run, to write and
    publish (the automatic draft belongs to whoever closed it)."""
    from apps.scenarios.alert_triage.models import Incident
    from apps.scenarios.alert_triage.views import can_view
    from apps.scenarios.postmortem import incidents

    if not can_view(request.user):
        raise PermissionDenied
    row = get_object_or_404(Incident, pk=pk)
    try:
        run = incidents.draft_run(row, request.user)
    except InputError as exc:
        messages.error(request, exc.message)
        return redirect("alert_triage:incident", pk=row.pk)
    return redirect("scenarios:run", "postmortem", run.pk)
