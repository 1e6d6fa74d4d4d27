"""/admin-console/scenarios/redis-advice/: the Redis instances the scenario may read."""

from apps.scenarios.engine.targets import console_urls
from apps.scenarios.redis_advice.console import KIND

app_name = "redis_targets"
urlpatterns = console_urls(KIND)
