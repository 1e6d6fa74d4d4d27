"""The authentication backend recorded in the session of a user signed in by sign-on."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend


class OIDCBackend(ModelBackend):
    """Never authenticates by credentials: apps/accounts/oidc/views.py signs the user in once
    the provider's ID token checks out; this class only loads that user on later requests."""

    def authenticate(self, request: Any, *args: Any, **kwargs: Any) -> None:
        return None
