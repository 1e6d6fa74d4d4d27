"""The scenario engine: findings, the scenario contract, the registry and the tool runner."""
