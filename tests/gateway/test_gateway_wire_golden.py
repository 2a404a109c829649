"""The gateway's wire, pinned: what each request gets back, byte for byte, and what it leaves.

Why: the hot path (middleware, route shortcut, invoke route, request context, responses,
processor, invoker, access log, metrics) is to get cheaper with nothing observable changing.
Each case below sends one request to a fresh gateway and compares with ``golden/wire.json``,
recorded from the code before that work:

* the status and every response header, in order, as the ASGI app sends them;
* the body text;
* the access-log line (its text and its key order);
* the ``gateway_requests_total`` and ``gateway_request_duration_seconds_count`` series the
  request changed.

What differs from run to run is checked for its shape, then replaced by a placeholder:

* a request id the gateway made (``^[0-9a-f]{32}$``) becomes ``<generated:32 hex>``
  wherever it appears: the ``x-request-id`` header, the body, the log line;
* the log line's ``ts`` (epoch seconds, within the request's wall time) becomes ``"<ts>"``
  and its ``duration_ms`` (a number >= 0) becomes ``"<duration_ms>"``;
* a ``date`` header, had the app sent one (it does not: the server adds it), becomes ``<date>``;
* the ``server-timing`` header keeps its names and order, each ``dur`` (a number of ms
  >= 0) becomes ``<ms>``, and so do the log line's ``queue_ms``, ``hold_ms``, ``svc_ms``
  and ``gw_ms`` where they are numbers (which of them are null is pinned).

Nothing else may vary: the breakers run on a frozen clock (so ``Retry-After`` and the
breaker's message are exact) and the client sends fixed default headers (so a routed
event echoes the same request headers on every machine).

A test run always compares; nothing in its environment makes it record. After an intended
change, re-record with the explicit command and review the diff of the golden file like code::

    ./dev regold        # or: python scripts/regold.py
"""

from __future__ import annotations

import difflib
import json
import re
import time
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from gateway_helpers import GatewayFactory, captured_access_log, gateway_factory, invoke_url

from reference.gateway.backends.base import InvocationBackend, WorkerInfo
from reference.gateway.backends.inprocess import InProcessBackend
from reference.gateway.models import ScalingConfig

pytestmark = pytest.mark.timeout(30)

GOLDEN = Path(__file__).parent / "golden" / "wire.json"

GENERATED_ID = "<generated:32 hex>"
_GENERATED = re.compile(r"[0-9a-f]{32}")
# Header values that differ from run to run: each must match its shape, then is replaced.
_VARYING_HEADERS = {
    "date": (
        re.compile(r"[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT"),
        "<date>",
    ),
}
_NUMBER = r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?"
_SERVER_TIMING = re.compile(r"(queue|hold|svc|gw);dur=\d+\.\d{3}")
_SPLIT_KEYS = ("queue_ms", "hold_ms", "svc_ms", "gw_ms")
_COUNTED = ("gateway_requests_total{", "gateway_request_duration_seconds_count{")

FROZEN_CLOCK = 1000.0  # the breakers' clock never moves: a tripped breaker's timing is exact
CLIENT_HEADERS = {"accept": "*/*", "accept-encoding": "identity", "user-agent": "gateproof-golden"}
JSON = {"content-type": "application/json"}
BREAKER = {"breaker": {"minimum_calls": 2, "window_size": 4}}


@dataclass(frozen=True)
class Case:
    """One recorded request, sent to a fresh gateway after ``setup`` (requests not recorded).

    ``worker``: ``runtime`` (the reference runtime, in process), ``scripted`` (answers as the
    runtime cannot: its own content type, extra and hop-by-hop headers, a proxy response) or
    ``broken`` (its backend raises on release, for the 500).
    """

    name: str
    method: str
    path: str
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    settings: Mapping[str, Any] = field(default_factory=dict)
    worker: str = "runtime"
    setup: tuple[tuple[str, str, bytes], ...] = ()


CASES = (
    Case("invoke_echo", "POST", invoke_url("echo"), b'{"hello":[1,2]}', JSON),
    Case(
        "invoke_echo_client_request_id", "POST", invoke_url("echo"), b'{"n":1}',
        {**JSON, "X-Request-ID": "client-id-1"},
    ),
    Case(
        "invoke_echo_invalid_request_id", "POST", invoke_url("echo"), b'{"n":2}',
        {**JSON, "X-Request-ID": "has space"},
    ),
    Case(
        "invoke_event", "POST", invoke_url("echo"), b'{"n":3}',
        {**JSON, "X-Amz-Invocation-Type": "Event"},
    ),
    Case(
        "invoke_bad_invocation_type", "POST", invoke_url("echo"), b"{}",
        {**JSON, "X-Amz-Invocation-Type": "Bogus"},
    ),
    Case("invoke_unknown_function", "POST", invoke_url("nope"), b"{}", JSON),
    Case("invoke_malformed_function_name", "POST", invoke_url("bad%20name"), b"{}", JSON),
    Case("invoke_with_get", "GET", invoke_url("echo")),
    Case("invoke_function_error", "POST", invoke_url("fail"), b"{}", JSON),
    Case("invoke_worker_timeout", "POST", invoke_url("sleep"), b'{"sleep_ms":5000}', JSON),
    Case(
        "invoke_declared_body_too_large", "POST", invoke_url("echo"), b"x" * 1001, JSON,
        settings={"max_body_bytes": 1000},
    ),
    Case(
        "header_with_cr_lf", "POST", invoke_url("echo"), b"{}",
        {**JSON, "X-Evil": "a\r\nSet-Cookie: stolen=1"},
    ),
    Case("header_with_nul", "GET", "/health", headers={"X-Evil": "a\x00b"}),
    Case(
        "invoke_breaker_open", "POST", invoke_url("fail"), b"{}", JSON,
        settings=BREAKER, setup=(("POST", invoke_url("fail"), b"{}"),) * 2,
    ),
    Case(
        "invoke_worker_own_headers", "POST", invoke_url("echo"), b"{}", JSON, worker="scripted"
    ),
    Case("invoke_internal_error", "POST", invoke_url("echo"), b"{}", JSON, worker="broken"),
    Case("routed_post", "POST", "/echo", b'{"a":1}', {**JSON, "X-Request-ID": "routed-1"}),
    Case("routed_get_item", "GET", "/items/42?color=red"),
    Case("routed_proxy_response", "POST", "/echo", b'{"a":1}', JSON, worker="scripted"),
    Case("routed_unmatched", "GET", "/no/such/route"),
    Case("health", "GET", "/health"),
)  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
async def test_the_wire_matches_the_golden_file(make_gateway: GatewayFactory, case: Case) -> None:
    compare(case.name, await _record(make_gateway, case))


def test_the_golden_file_holds_exactly_the_cases_in_order() -> None:
    assert list(_load()) == [case.name for case in CASES]


def compare(name: str, wire: dict[str, Any], golden: Path = GOLDEN) -> None:
    """Fail unless ``wire`` is the golden file's case ``name``: never records, whatever is set."""
    expected = _load(golden).get(name)
    assert expected is not None, (
        f"case {name!r} is not in {golden.name}; record it with `./dev regold`"
    )
    if wire != expected:
        pytest.fail(
            f"case {name!r} differs from {golden.name}:\n{_diff(expected, wire)}\n"
            "if the change is intended, re-record with `./dev regold` and review the diff"
        )


async def record_cases(directory: Path, cases: tuple[Case, ...] = CASES) -> dict[str, Any]:
    """Record ``cases`` afresh, each on a fresh gateway configured in ``directory``."""
    return {case.name: await _record(gateway_factory(directory), case) for case in cases}


def store(recorded: Mapping[str, Any], golden: Path = GOLDEN) -> None:
    """Write recorded cases into ``golden`` in the order of CASES (`./dev regold`; never a test).

    Cases not recorded this time stay as they were; cases no longer in CASES go.
    """
    before = _load(golden)
    merged = {case.name: recorded.get(case.name, before.get(case.name)) for case in CASES}
    ordered = {name: wire for name, wire in merged.items() if wire is not None}
    golden.parent.mkdir(parents=True, exist_ok=True)
    golden.write_text(_dumps(ordered) + "\n")


async def test_a_test_run_compares_and_never_records(make_gateway, tmp_path, monkeypatch) -> None:
    """The variable that once turned every comparison into a rewrite now changes nothing."""
    monkeypatch.setenv("GATEPROOF_REGOLD", "1")
    (health,) = [case for case in CASES if case.name == "health"]
    golden = tmp_path / "wire.json"
    stale = {"health": {**_load()["health"], "body": "a body the gateway does not send"}}
    golden.write_text(json.dumps(stale))

    with pytest.raises(pytest.fail.Exception, match=r"differs from wire\.json"):
        compare("health", await _record(make_gateway, health), golden)
    assert json.loads(golden.read_text()) == stale


async def test_rerecording_writes_the_cases_it_recorded_in_order(tmp_path) -> None:
    golden = tmp_path / "golden" / "wire.json"
    chosen = tuple(case for case in CASES if case.name in ("routed_unmatched", "health"))

    store(await record_cases(tmp_path, chosen), golden)

    written = _load(golden)
    assert list(written) == ["routed_unmatched", "health"]
    assert written == {name: _load()[name] for name in written}


async def _record(make_gateway: GatewayFactory, case: Case) -> dict[str, Any]:
    """Send ``case`` to a fresh gateway; what went out, normalised."""
    with captured_access_log() as log_lines:
        async with make_gateway(
            with_backend=_backend(case.worker),
            clock=lambda: FROZEN_CLOCK,
            access_log=True,
            **case.settings,
        ) as gw:
            recorder = _Recorder(gw.app)
            transport = httpx.ASGITransport(recorder)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://gateway", headers=CLIENT_HEADERS
            ) as client:
                for method, path, body in case.setup:
                    await client.request(method, path, content=body, headers=JSON)
                before = _counted_series(gw.container.metrics.render())
                recorder.messages.clear()
                log_lines.clear()
                started = time.time()
                await client.request(
                    case.method, case.path, content=case.body, headers=case.headers
                )
                ended = time.time()
                after = _counted_series(gw.container.metrics.render())
    status, raw_headers, body = _response(recorder.messages)
    generated = _generated_request_id(raw_headers, case.headers)
    assert len(log_lines) == 1, f"one access-log line per request, got {log_lines}"
    wire = {
        "request": f"{case.method} {case.path}",
        "status": status,
        "headers": [_header(name, value, generated) for name, value in raw_headers],
        "body": _unvarying(body.decode("utf-8"), generated),
        "access_log": _log_line(log_lines[0], started, ended, generated),
        "metrics": _changed(before, after),
    }
    return json.loads(json.dumps(wire))  # as the golden file holds it: lists, not tuples


class _Recorder:
    """ASGI wrapper that keeps every message the app sends, exactly as sent."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.messages: list[MutableMapping[str, Any]] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        async def record(message: MutableMapping[str, Any]) -> None:
            if scope["type"] == "http":
                self.messages.append({**message, "headers": list(message.get("headers", ()))})
            await send(message)

        await self.app(scope, receive, record)


def _response(
    messages: list[MutableMapping[str, Any]],
) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    starts = [m for m in messages if m["type"] == "http.response.start"]
    bodies = [m for m in messages if m["type"] == "http.response.body"]
    assert len(starts) == 1 and messages[0] is starts[0], messages
    assert bodies and not bodies[-1].get("more_body", False), "the body was not finished"
    return starts[0]["status"], starts[0]["headers"], b"".join(m.get("body", b"") for m in bodies)


def _generated_request_id(
    headers: list[tuple[bytes, bytes]], sent: Mapping[str, str]
) -> str | None:
    """The id the gateway made, after checking its shape; None when the client's was kept."""
    ids = [value.decode("latin-1") for name, value in headers if name.lower() == b"x-request-id"]
    assert ids, "every response carries x-request-id"
    client = {k.lower(): v for k, v in sent.items()}.get("x-request-id")
    if ids[0] == client:
        return None
    assert _GENERATED.fullmatch(ids[0]), f"a generated request id is 32 hex digits: {ids[0]!r}"
    return ids[0]


def _header(name: bytes, value: bytes, generated: str | None) -> list[str]:
    text_name, text = name.decode("latin-1"), value.decode("latin-1")
    varying = _VARYING_HEADERS.get(text_name.lower())
    if varying is not None:
        shape, placeholder = varying
        assert shape.fullmatch(text), f"{text_name}: {text!r} does not match {shape.pattern}"
        text = placeholder
    if text_name.lower() == "server-timing":
        entries = text.split(", ")
        assert all(_SERVER_TIMING.fullmatch(e) for e in entries), f"server-timing: {text!r}"
        text = ", ".join(e.split(";")[0] + ";dur=<ms>" for e in entries)
    return [text_name, _unvarying(text, generated)]


def _unvarying(text: str, generated: str | None) -> str:
    return text.replace(generated, GENERATED_ID) if generated else text


def _log_line(line: str, started: float, ended: float, generated: str | None) -> dict[str, Any]:
    """The line's text with ``ts`` and ``duration_ms`` checked and replaced, and its key order."""
    record = json.loads(line)
    ts, duration = record["ts"], record["duration_ms"]
    assert isinstance(ts, float) and started - 0.001 <= ts <= ended + 0.001, (ts, started, ended)
    assert isinstance(duration, int | float) and not isinstance(duration, bool), duration
    assert duration >= 0, duration
    for key in ("ts", "duration_ms"):
        line, count = re.subn(rf'("{key}"\s*:\s*){_NUMBER}', rf'\g<1>"<{key}>"', line)
        assert count == 1, f"{key} appears {count} times in {line}"
    for key in _SPLIT_KEYS:
        value = record[key]
        if value is not None:
            assert isinstance(value, int | float) and value >= 0, (key, value)
            line, count = re.subn(rf'("{key}"\s*:\s*){_NUMBER}', r'\g<1>"<ms>"', line)
            assert count == 1, f"{key} appears {count} times in {line}"
    return {"keys": list(record), "line": _unvarying(line, generated)}


def _counted_series(text: bytes) -> dict[str, str]:
    series: dict[str, str] = {}
    for line in text.decode().splitlines():
        if line.startswith(_COUNTED):
            name, value = line.rsplit(" ", 1)
            series[name] = value
    return series


def _changed(before: dict[str, str], after: dict[str, str]) -> list[str]:
    assert set(before) <= set(after), "a counted series disappeared"
    return [f"{name} {value}" for name, value in after.items() if before.get(name) != value]


_SCALING = {
    name: ScalingConfig(max_capacity=2, acquire_timeout=2) for name in ("echo", "sleep", "fail")
}


def _scripted_worker(request: httpx.Request) -> httpx.Response:
    """Answers as the reference runtime cannot (it always sends application/json alone)."""
    if b'"httpMethod"' in request.content:  # a routed call: a Lambda proxy response
        return httpx.Response(
            200,
            json={
                "statusCode": 201,
                "headers": {"Content-Type": "text/html; charset=utf-8", "X-Route": "1"},
                "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"], "Connection": ["close"]},
                "body": "<p>made</p>",
            },
        )
    return httpx.Response(
        201,
        content=b"made, not echoed",
        headers={
            "Content-Type": "text/plain; charset=utf-8",
            "X-Worker-Extra": "yes",
            "Keep-Alive": "timeout=5",
            "X-Request-ID": "from-the-worker",
        },
    )


class _BrokenRelease(InProcessBackend):
    async def release_worker(self, function: str, worker: WorkerInfo) -> None:
        raise RuntimeError("a bug in the backend")


def _backend(worker: str) -> InvocationBackend | None:
    """None: the gateway's own in-process backend, running the reference runtime."""
    if worker == "runtime":
        return None
    transport = httpx.MockTransport(_scripted_worker)
    backend = {"scripted": InProcessBackend, "broken": _BrokenRelease}[worker]
    return backend(_SCALING, transport_factory=lambda name: transport)


def _load(golden: Path = GOLDEN) -> dict[str, Any]:
    return json.loads(golden.read_text()) if golden.exists() else {}


def _diff(expected: dict[str, Any], actual: dict[str, Any]) -> str:
    lines = difflib.unified_diff(
        _dumps(expected).splitlines(), _dumps(actual).splitlines(), "golden", "now", lineterm=""
    )
    return "\n".join(lines)


def _dumps(value: Any, indent: str = "") -> str:
    """Indented JSON, but a short list of plain values (a header, the log keys) on one line.

    So a changed header or key order is one line of the diff, as it is one line on the wire.
    """
    inner = indent + "  "
    if isinstance(value, dict) and value:
        items = [f"{inner}{json.dumps(k)}: {_dumps(v, inner)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + indent + "}"
    flat = json.dumps(value)
    nested = isinstance(value, list) and any(isinstance(v, list | dict) for v in value)
    if isinstance(value, list) and value and (nested or len(inner + flat) > 90):
        items = [inner + _dumps(v, inner) for v in value]
        return "[\n" + ",\n".join(items) + "\n" + indent + "]"
    return flat
