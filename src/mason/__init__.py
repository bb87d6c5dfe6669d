"""mason: a daemonless container image builder, the successor to Kaniko for CI pipelines."""

__version__ = "0.1.0"
