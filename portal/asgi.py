"""HTTP and websocket entry point.

Websocket routes come from each app's routing.py; the origin validator refuses pages served
from other hosts, and the auth middleware gives consumers the signed-in user.
"""

import gc
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.urls import get_resolver  # noqa: E402

from apps.scenarios.alert_triage import receiver as alert_receiver  # noqa: E402
from common import services  # noqa: E402
from common.proxies import TrustedProxies  # noqa: E402
from portal.routing import websocket_urlpatterns  # noqa: E402

# The client's address is settled first, from TRUSTED_PROXIES only, for HTTP and websockets.
application = TrustedProxies(
    ProtocolTypeRouter(
        {
            # The alert webhook is served beside Django's stack (receiver.py says why).
            "http": alert_receiver.mount(django_asgi_app),
            "websocket": AllowedHostsOriginValidator(
                AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
            ),
            # Start-up and shutdown: the background services apps registered (services.py).
            "lifespan": services.lifespan,
        }
    )
)

# What is loaded by now lives as long as the process. Frozen, it is out of the garbage
# collector's sight: a full collection then walks only what requests and streams created
# (~15k objects, ~20 ms) instead of the whole framework as well (~200k, 100-190 ms in which
# no token is relayed). The views are imported first, not on the first request, to be frozen
# too.
get_resolver().url_patterns  # noqa: B018
gc.freeze()
