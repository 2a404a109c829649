"""The gateway's side of the orchestrator's HTTP contract (see ``reference/orchestrator``).

:class:`ProvisionClient` asks for workers, lists the running ones and gives
them back; :class:`HeartbeatClient` tells the orchestrator which workers are
still in use, so it does not reap them. Both turn "cannot reach the
orchestrator" into one exception, :class:`OrchestratorUnavailableError`,
which the gateway answers with 503 ``backend_unavailable``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Self

import httpx

__all__ = [
    "HeartbeatClient",
    "OrchestratorUnavailableError",
    "ProvisionClient",
    "ProvisionFailedError",
    "RemoteWorker",
]


class OrchestratorUnavailableError(ConnectionError):
    """The orchestrator did not answer (down, restarting, or too slow)."""


class ProvisionFailedError(RuntimeError):
    """The orchestrator answered but could not start the workers (image missing, never ready)."""


@dataclass(frozen=True)
class RemoteWorker:
    """A running container as the orchestrator reports it."""

    id: str
    name: str
    function: str
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> RemoteWorker:
        return cls(
            id=str(document["id"]),
            name=str(document["name"]),
            function=str(document["function"]),
            host=str(document["host"]),
            port=int(document["port"]),
        )


class _OrchestratorClient:
    def __init__(
        self,
        base_url: str,
        *,
        timeout: float,
        transport: httpx.AsyncBaseTransport | None = None,
        token: str | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            timeout=timeout,
            transport=transport,
            trust_env=False,
            headers=headers,
        )

    async def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = await self._http.request(method, path, **kwargs)
        except httpx.TransportError as error:
            raise OrchestratorUnavailableError(
                f"orchestrator at {self.base_url} unreachable ({type(error).__name__}); "
                f"start it with `python -m reference.orchestrator` or check "
                f"GATEPROOF_DOCKER_ORCHESTRATOR_URL"
            ) from error
        if response.status_code == 401:
            raise OrchestratorUnavailableError(
                f"orchestrator at {self.base_url} refused the gateway's token (401); set "
                f"GATEPROOF_DOCKER_ORCHESTRATOR_TOKEN, or GATEPROOF_DOCKER_ORCHESTRATOR_TOKEN_FILE "
                f"to the file the orchestrator wrote its token to"
            )
        return response

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


def _detail(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail")
    except ValueError:
        return response.text[:300]
    if isinstance(detail, dict):
        return str(detail.get("message", detail))
    return str(detail)


class ProvisionClient(_OrchestratorClient):
    """Provision, list and delete workers. The timeout covers a whole cold start."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
        token: str | None = None,
    ) -> None:
        super().__init__(base_url, timeout=timeout, transport=transport, token=token)

    async def provision(
        self,
        function: str,
        count: int = 1,
        *,
        image: str | None = None,
        env: dict[str, str] | None = None,
    ) -> list[RemoteWorker]:
        body = {"function": function, "count": count, "image": image, "env": env or {}}
        response = await self._request("POST", "/containers/provision", json=body)
        if response.status_code >= 500 and response.status_code != 503:
            raise OrchestratorUnavailableError(
                f"orchestrator answered {response.status_code}: {_detail(response)}"
            )
        if response.status_code != 200:
            raise ProvisionFailedError(
                f"orchestrator could not provision {function!r}: {_detail(response)}"
            )
        return [RemoteWorker.from_json(w) for w in response.json()["workers"]]

    async def sync(self, function: str | None = None) -> list[RemoteWorker]:
        params = {"function": function} if function else None
        response = await self._request("GET", "/containers/sync", params=params)
        if response.status_code != 200:
            raise OrchestratorUnavailableError(
                f"orchestrator sync answered {response.status_code}: {_detail(response)}"
            )
        return [RemoteWorker.from_json(w) for w in response.json()["workers"]]

    async def delete(self, container_id: str) -> bool:
        """Remove a worker; False if the orchestrator no longer knows it."""
        response = await self._request("DELETE", f"/containers/{container_id}")
        if response.status_code >= 500:
            raise OrchestratorUnavailableError(
                f"orchestrator delete answered {response.status_code}: {_detail(response)}"
            )
        return response.status_code == 204


class HeartbeatClient(_OrchestratorClient):
    """Keep workers alive; learn which ones are gone."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 5.0,
        transport: httpx.AsyncBaseTransport | None = None,
        token: str | None = None,
    ) -> None:
        super().__init__(base_url, timeout=timeout, transport=transport, token=token)

    async def heartbeat(self, ids: list[str]) -> tuple[list[str], list[str]]:
        """Returns ``(alive, missing)``."""
        response = await self._request("POST", "/containers/heartbeat", json={"ids": ids})
        if response.status_code != 200:
            raise OrchestratorUnavailableError(
                f"orchestrator heartbeat answered {response.status_code}: {_detail(response)}"
            )
        document = response.json()
        return list(document["alive"]), list(document["missing"])
