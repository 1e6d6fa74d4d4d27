"""Nginx and HAProxy consultant: review a config with the real tools and rules, or write
one from vetted templates chosen by intent."""

from apps.scenarios.engine import registry
from apps.scenarios.proxy_config.scenario import ProxyConfig

registry.register(ProxyConfig())
