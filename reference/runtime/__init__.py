"""The function worker: a Lambda-RIE-compatible HTTP server with built-in functions.

``create_app(function=..., **settings)`` gives the ASGI app (for an in-process
``httpx.ASGITransport``); ``python -m reference.runtime`` serves it with
uvicorn. The process backend and the Docker images run the latter.
"""

from reference.runtime.app import (
    HEALTH_PATH,
    INVOKE_PATH,
    MAX_EVENT_BYTES,
    RuntimeApp,
    create_app,
)
from reference.runtime.functions import WorkerCrash
from reference.runtime.settings import (
    FUNCTIONS,
    LatencyDistribution,
    RuntimeSettings,
    SettingsError,
)

__all__ = [
    "FUNCTIONS",
    "HEALTH_PATH",
    "INVOKE_PATH",
    "MAX_EVENT_BYTES",
    "LatencyDistribution",
    "RuntimeApp",
    "RuntimeSettings",
    "SettingsError",
    "WorkerCrash",
    "create_app",
]
