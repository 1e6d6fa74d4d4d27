"""Request types for views.

`HtmxHttpRequest` is Django's request plus django-htmx's `request.htmx`. `AuthedRequest` is a
request behind the sign-in (LoginRequiredMiddleware lets no anonymous request reach a view
that is not marked login_not_required), so its `user` is a real User, not AnonymousUser.
"""

from django.contrib.auth.models import User
from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


class AuthedRequest(HtmxHttpRequest):
    user: User
