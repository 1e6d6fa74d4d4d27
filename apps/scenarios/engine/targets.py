"""Live targets: systems an admin lets a scenario read (Redis instances, RabbitMQ nodes).

What every kind shares is here once: the stored row (name, password kept as a Fernet token
like the knowledge sources' secrets, groups, enabled), who may use a target, the audited
writes, the admin form's common fields and the console pages (list, add and edit, test the
connection, delete; admin only). A kind adds its own fields, how its URL is checked and how a
connection is tested (`Kind`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from django import forms
from django.contrib import messages
from django.contrib.auth.models import Group
from django.db import models, transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import URLPattern, path, reverse
from django.utils.translation import gettext as gettext_now
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.accounts import audit
from apps.accounts.roles import admin_required, is_portal_admin
from apps.knowledge import crypto
from common.http import HtmxHttpRequest

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


class LiveTarget(models.Model):
    """A system a scenario reads, read-only; no groups means admins only. Each kind declares
    its `url` and its `allowed_groups` (with a related name of its own)."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    # The password is never shown again: only this token is stored.
    password_encrypted = models.TextField(blank=True, default="")
    enabled = models.BooleanField(_("enabled"), default=True)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    # The audit events are "<audit_kind>_target_created", "…_updated", "…_deleted".
    audit_kind: ClassVar[str] = ""

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return self.name

    def password(self) -> str:
        return crypto.decrypt(self.password_encrypted).get("password", "")

    def has_password(self) -> bool:
        return bool(self.password_encrypted)

    def group_names(self) -> list[str]:
        return sorted(g.name for g in self.allowed_groups.all())  # type: ignore[attr-defined]

    def audit_details(self) -> dict[str, Any]:
        """What the audit log keeps of a saved target besides its groups (never a secret)."""
        return {"url": getattr(self, "url", "")}


def usable_by[T: LiveTarget](model: type[T], user: Any) -> QuerySet[T]:
    """Enabled targets the user may read: admins all, others those of one of their groups."""
    targets = model._default_manager.filter(enabled=True)
    if is_portal_admin(user):
        return targets
    if not getattr(user, "is_authenticated", False):
        return targets.none()
    return targets.filter(allowed_groups__in=user.groups.all()).distinct()


def save[T: LiveTarget](
    actor: Any,
    target: T,
    *,
    groups: Iterable[Group],
    password: str = "",
    clear_password: bool = False,
    request: HttpRequest | None = None,
    **fields: Any,
) -> T:
    """Store a new (unsaved) or existing target with `fields` set on it, audited."""
    with transaction.atomic():
        created = target.pk is None
        for name, value in fields.items():
            setattr(target, name, value)
        if password:
            target.password_encrypted = crypto.encrypt({"password": password})
        elif clear_password:
            target.password_encrypted = ""
        target.save()
        target.allowed_groups.set(list(groups))  # type: ignore[attr-defined]
        audit.record(
            actor,
            f"{target.audit_kind}_target_{'created' if created else 'updated'}",
            target.name,
            # Never the password: only whether one changed.
            {
                **target.audit_details(),
                "groups": target.group_names(),
                "password_changed": bool(password or clear_password),
            },
            request,
        )
    return target


def delete(actor: Any, target: LiveTarget, request: HttpRequest | None = None) -> None:
    with transaction.atomic():
        name = target.name
        target.delete()
        audit.record(actor, f"{target.audit_kind}_target_deleted", name, {}, request)


class TargetForm(forms.Form):
    """The admin form's common fields; a kind sets `model`, its `url` field (label, help,
    clean_url) and its own fields, and `field_order` when they go between these."""

    model: ClassVar[type[LiveTarget]]

    name = forms.CharField(label=_("Name"), max_length=100)
    url = forms.CharField(label=_("URL"), max_length=500)
    # Write-only: the stored password is never put back into the page.
    password = forms.CharField(
        label=_("Password"),
        required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=_("Leave empty to keep the stored one."),
    )
    clear_password = forms.BooleanField(label=_("Remove the stored password"), required=False)
    groups = forms.ModelMultipleChoiceField(
        label=_("Groups allowed to use it"),
        queryset=Group.objects.order_by("name"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("None selected: admins only."),
    )
    enabled = forms.BooleanField(label=_("Enabled"), required=False, initial=True)

    def __init__(self, *args: Any, instance: LiveTarget | None = None, **kwargs: Any) -> None:
        self.instance = instance
        if instance is not None and "initial" not in kwargs:
            kwargs["initial"] = {
                **{
                    name: getattr(instance, name)
                    for name in self.base_fields
                    if name not in ("password", "clear_password", "groups")
                },
                "groups": list(instance.allowed_groups.all()),  # type: ignore[attr-defined]
            }
        super().__init__(*args, **kwargs)

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        clash = self.model._default_manager.filter(name=name)
        if self.instance is not None:
            clash = clash.exclude(pk=self.instance.pk)
        if clash.exists():
            raise forms.ValidationError(_("A target with this name already exists."))
        return name


@dataclass(frozen=True)
class Kind:
    """One kind of target in the admin console."""

    model: type[LiveTarget]
    form: type[TargetForm]
    namespace: str  # of its console URLs: "<namespace>:list", ":new", ":edit", …
    list_template: str  # its list page: the columns differ by kind
    add_title: StrOrPromise
    delete_question: StrOrPromise
    saved: StrOrPromise
    deleted: StrOrPromise
    # Reads the target as its scenario would and says what answered; raises one of
    # `failures` when it cannot be read.
    probe: Callable[[Any], str]
    failures: tuple[type[Exception], ...]


def console_urls(kind: Kind) -> list[URLPattern]:
    """The kind's console pages, for its console_urls.py."""

    @require_GET
    @admin_required
    def targets(request: HtmxHttpRequest) -> HttpResponse:
        # Each kind declares allowed_groups; the abstract base cannot name it to the checker.
        rows = kind.model._default_manager.prefetch_related("allowed_groups")  # type: ignore[misc]
        return render(request, kind.list_template, {"targets": rows})

    @require_http_methods(["GET", "POST"])
    @admin_required
    def target_form(request: HtmxHttpRequest, pk: int | None = None) -> HttpResponse:
        target = get_object_or_404(kind.model, pk=pk) if pk else None
        form = kind.form(request.POST or None, instance=target)
        if request.method == "POST" and form.is_valid():
            save(request.user, target or kind.model(), request=request, **form.cleaned_data)
            messages.success(request, kind.saved)
            return redirect(f"{kind.namespace}:list")
        context = {
            "form": form,
            "target": target,
            "add_title": kind.add_title,
            "delete_question": kind.delete_question,
            "list_url": reverse(f"{kind.namespace}:list"),
            "delete_url": reverse(f"{kind.namespace}:delete", args=[pk]) if pk else "",
        }
        return render(request, "scenarios/console_target_form.html", context)

    @require_POST
    @admin_required
    def target_test(request: HtmxHttpRequest, pk: int) -> HttpResponse:
        """Reads the target as its scenario would, so an admin sees at once whether it works."""
        target = get_object_or_404(kind.model, pk=pk)
        try:
            messages.success(request, kind.probe(target))
        except kind.failures as exc:
            messages.error(
                request,
                gettext_now("%(name)s cannot be read: %(error)s")
                % {"name": target.name, "error": exc},
            )
        return redirect(f"{kind.namespace}:list")

    @require_POST
    @admin_required
    def target_delete(request: HtmxHttpRequest, pk: int) -> HttpResponse:
        delete(request.user, get_object_or_404(kind.model, pk=pk), request=request)
        messages.success(request, kind.deleted)
        return redirect(f"{kind.namespace}:list")

    return [
        path("targets/", targets, name="list"),
        path("targets/new/", target_form, name="new"),
        path("targets/<int:pk>/", target_form, name="edit"),
        path("targets/<int:pk>/test/", target_test, name="test"),
        path("targets/<int:pk>/delete/", target_delete, name="delete"),
    ]
