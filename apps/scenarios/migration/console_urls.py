"""/admin-console/scenarios/migration/: the RabbitMQ nodes the checklist may read."""

from apps.scenarios.engine.targets import console_urls
from apps.scenarios.migration.console import KIND

app_name = "rabbit_targets"
urlpatterns = console_urls(KIND)
