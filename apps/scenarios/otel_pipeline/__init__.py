"""OpenTelemetry Collector and Data Prepper pipeline debugger (slug `otel-pipeline`)."""

from apps.scenarios.engine import registry
from apps.scenarios.otel_pipeline.scenario import OtelPipelineScenario

registry.register(OtelPipelineScenario())
