"""Ansible playbook reviewer and generator (slug `ansible`)."""

from apps.scenarios.ansible.scenario import AnsibleScenario
from apps.scenarios.engine import registry

registry.register(AnsibleScenario())
