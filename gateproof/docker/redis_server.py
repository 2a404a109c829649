"""A Redis container (testcontainers) on a fixed 127.0.0.1 port, restartable in place.

The port is chosen up front so a stopped and restarted server keeps its URL:
the restart scenarios reconnect the same clients to it.
"""

from __future__ import annotations

import time

import redis

from gateproof.docker.testcontainers_env import configure_testcontainers
from reference.orchestrator.local import free_port

__all__ = ["REDIS_IMAGE", "RedisServer"]

REDIS_IMAGE = "gateproof/redis:latest"


class RedisServer:
    def __init__(self, labels: dict[str, str], image: str = REDIS_IMAGE) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        configure_testcontainers()  # before testcontainers reads its configuration
        from testcontainers.core.container import DockerContainer

        self.container = DockerContainer(image, labels=labels)
        # docker's own port syntax: publish on loopback only
        self.container.ports["6379/tcp"] = ("127.0.0.1", self.port)  # type: ignore[assignment]

    def start(self) -> RedisServer:
        self.container.start()
        self.wait_ready()
        return self

    def wait_ready(self, deadline: float = 15.0) -> None:
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=0.5)
        end = time.monotonic() + deadline
        try:
            while True:
                try:
                    if client.ping():
                        return
                except redis.exceptions.RedisError:
                    if time.monotonic() > end:
                        raise
                time.sleep(0.05)
        finally:
            client.close()

    def stop_server(self) -> None:
        """Stop the container, keeping it (and its port binding) for a restart."""
        self.container.get_wrapped_container().stop(timeout=1)

    def start_server(self) -> None:
        self.container.get_wrapped_container().start()
        self.wait_ready()

    def remove(self) -> None:
        self.container.stop()

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.remove()
