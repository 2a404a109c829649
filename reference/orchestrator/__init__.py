"""The container manager: the only component that talks to Docker.

The gateway asks it over HTTP for workers (``POST /containers/provision``),
keeps them alive (``POST /containers/heartbeat``), finds them again after a
restart (``GET /containers/sync``) and gives them back
(``DELETE /containers/{id}``). Run it with ``python -m reference.orchestrator``.
"""
