"""`POST /api/scenarios/<slug>/analyze`: a scenario's analysis for other tools (a CI job, an
editor, OpenSearch Dashboards), with a personal API token.

    curl -H "Authorization: Bearer odk_..." -H "Content-Type: application/json" \\
         -d '{"text": "server { ... }", "params": {}}' \\
         https://opsdesk.example/api/scenarios/proxy-config/analyze

200: the findings exactly as `manage.py scenario analyze SLUG --json` prints them,
{"findings": [{"severity", "rule", "message", "line", "evidence", ...}], ...facts}.
Errors are {"error": {"message", "field", "line"}}: 400 bad JSON or input (naming the field
or line), 401 no valid token, 404 unknown scenario, 405 not POST, 413 too large, 503 a tool
the scenario needs is not installed. Messages are in the language of Accept-Language
(Russian or English; Russian when absent). Only the token authenticates: a browser session
does not, so the endpoint needs (and has) no CSRF token.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.utils import translation
from django.utils.cache import patch_vary_headers
from django.utils.translation.trans_real import parse_accept_lang_header
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt

from apps.accounts.tokens import user_for_authorization_header
from apps.scenarios.engine import registry
from apps.scenarios.engine.base import MAX_INPUT_BYTES, InputError
from apps.scenarios.engine.forms import ScenarioForm
from apps.scenarios.engine.runner import ToolMissing
from common import jsonsafe

app_name = "scenarios_api"

# JSON escapes can triple the text's size (\u0438 for и); the text itself is checked after.
MAX_BODY_BYTES = 3 * MAX_INPUT_BYTES + 64 * 1024


class ApiError(Exception):
    def __init__(self, status: int, message: str, field: str = "", line: int | None = None):
        super().__init__(message)
        self.status, self.message, self.field, self.line = status, message, field, line

    def response(self) -> JsonResponse:
        body = {"error": {"message": self.message, "field": self.field, "line": self.line}}
        response = JsonResponse(body, status=self.status)
        if self.status == 401:
            response["WWW-Authenticate"] = 'Bearer realm="opsdesk"'
        if self.status == 405:
            response["Allow"] = "POST"
        return response


def _body(request: HttpRequest) -> dict[str, Any]:
    try:
        declared = int(request.headers.get("Content-Length") or 0)
    except ValueError:
        raise ApiError(400, "Content-Length is not a number.") from None
    if declared > MAX_BODY_BYTES:
        raise _too_big(declared)
    raw = request.read(MAX_BODY_BYTES + 1)
    if len(raw) > MAX_BODY_BYTES:
        raise _too_big(len(raw))
    try:
        data = jsonsafe.loads(raw)
    except UnicodeDecodeError:
        raise ApiError(400, "The body is not UTF-8.") from None
    except jsonsafe.TooDeep as exc:
        raise ApiError(400, f"The body is not accepted: {exc}.") from None
    except json.JSONDecodeError as exc:
        raise ApiError(
            400, f"The body is not JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})."
        ) from None
    if not isinstance(data, dict):
        raise ApiError(400, 'The body must be a JSON object: {"text": "...", "params": {}}.')
    return data


def _too_big(size: int) -> ApiError:
    return ApiError(
        413,
        f"The body is {size / 1048576:.1f} MB; at most {MAX_INPUT_BYTES // 1048576} MB of "
        "input is read.",
        field="text",
    )


def _params(form_class: type[ScenarioForm] | None, text: str, raw: Any) -> dict[str, Any]:
    """The scenario's own fields, validated by its page form (one set of rules for both);
    a scenario without a form of its own reads and checks its params in analyze()."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ApiError(400, '"params" must be an object.', field="params")
    if form_class is None:
        return raw
    engine = set(ScenarioForm.ENGINE_FIELDS)
    unknown = sorted(set(raw) & engine) or sorted(set(raw) - set(form_class.base_fields))
    if unknown:
        raise ApiError(400, f"Unknown parameter {unknown[0]!r}.", field=f"params.{unknown[0]}")
    form = form_class(data={"mode": "paste", "text": text, **raw})
    if not form.is_valid():
        name, errors = next(iter(form.errors.items()))
        field = "text" if name in ("text", "__all__") else f"params.{name}"
        raise ApiError(400, str(errors[0]), field=field)
    return form.params()


def _analyze(request: HttpRequest, slug: str) -> JsonResponse:
    if request.method != "POST":
        raise ApiError(405, "Use POST.")
    user = user_for_authorization_header(request.headers.get("Authorization"))
    if user is None:
        raise ApiError(
            401,
            "Missing, unknown or revoked API token. Send 'Authorization: Bearer <token>'; "
            "create a token on your profile page.",
        )
    try:
        scenario = registry.get(slug)
    except registry.UnknownScenario as exc:
        raise ApiError(404, str(exc)) from None
    data = _body(request)
    text = data.get("text")
    if not isinstance(text, str):
        raise ApiError(400, '"text" must be a string: the input to analyze.', field="text")
    if len(text.encode("utf-8", "surrogatepass")) > MAX_INPUT_BYTES:
        raise _too_big(len(text.encode("utf-8", "surrogatepass")))
    if "\x00" in text:
        raise ApiError(400, "The input is binary, not text.", field="text")
    params = _params(scenario.form_class, text, data.get("params"))
    try:
        analysis = scenario.analyze(text, params)
    except InputError as exc:
        field = exc.field if exc.field in ("", "text") else f"params.{exc.field}"
        raise ApiError(400, exc.message, field=field or "text", line=exc.line) from None
    except ToolMissing as exc:
        raise ApiError(503, f"{exc.tool} is not installed on the portal server.") from None
    return JsonResponse(analysis.to_dict(), json_dumps_params={"ensure_ascii": False})


def _language(request: HttpRequest) -> str:
    """Tools say which language they read in Accept-Language (pages use the cookie)."""
    for code, _quality in parse_accept_lang_header(request.headers.get("Accept-Language", "")):
        try:
            return translation.get_supported_language_variant(code)
        except LookupError:
            continue
    return settings.LANGUAGE_CODE


@csrf_exempt
@login_not_required
@never_cache
def analyze(request: HttpRequest, slug: str) -> JsonResponse:
    with translation.override(_language(request)):
        try:
            response = _analyze(request, slug)
        except ApiError as exc:
            response = exc.response()
    patch_vary_headers(response, ("Accept-Language",))
    return response


urlpatterns = [path("<slug:slug>/analyze", analyze, name="analyze")]
