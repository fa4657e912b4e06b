"""The engine: inventory model, audit plans, probes and facts, transports, runner, results store."""

__version__ = "0.1.0"
