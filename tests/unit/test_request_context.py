"""The call's context, read from the ASGI scope, is what Starlette's ``Request`` would give."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from starlette.requests import ClientDisconnect, Request

from reference.gateway.api.context import request_path, request_to_context
from reference.gateway.core.errors import PayloadTooLarge
from reference.gateway.models import InputContext

LIMIT = 64

paths = st.one_of(
    st.sampled_from(["/2015-03-31/functions/echo/invocations", "/items/7", "/", "//x", "/a?b"]),
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=30).map(
        lambda text: "/" + text
    ),
)
hosts = st.one_of(
    st.none(),
    st.sampled_from(["127.0.0.1:8000", "gw", "[::1]:80", "[zz]:1", "a/b", "h:99999", ""]),
    st.text(alphabet="ab1:[]./@%", max_size=12),
)
latin1 = st.binary(max_size=12).map(lambda raw: raw.decode("latin-1").encode("latin-1"))
header_lists = st.lists(st.tuples(st.sampled_from([b"a", b"x-b", b"content-type"]), latin1))
chunks = st.lists(st.binary(max_size=40), max_size=3)


def scope_for(
    path: str, host: str | None, query: bytes, headers: list[tuple[bytes, bytes]]
) -> dict[str, Any]:
    raw = [(b"host", host.encode("latin-1", "replace"))] if host is not None else []
    return {
        "type": "http",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "root_path": "",
        "query_string": query,
        "headers": raw + headers,
        "server": ("127.0.0.1", 8000),
        "client": ("10.0.0.9", 5555),
        "state": {"request_id": "r-1"},
        "path_params": {"name": "echo"},
    }


def receiver(parts: list[bytes]) -> Any:
    messages = [
        {"type": "http.request", "body": part, "more_body": index < len(parts) - 1}
        for index, part in enumerate(parts or [b""])
    ]

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    return receive


async def through_starlette(request: Request, limit: int) -> InputContext:
    """The context as it was built through the ``Request`` API: the oracle."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise PayloadTooLarge.over(limit)
    headers = dict(request.headers.items())
    headers["x-request-id"] = request.state.request_id
    return InputContext(
        path=request.url.path,
        method=request.method,
        headers=headers,
        query_params=dict(request.query_params.items()),
        body=body,
        user_id=None,
        request_id=request.state.request_id,
        path_params=dict(request.path_params),
        client=request.client.host if request.client else None,
    )


@settings(max_examples=400, deadline=None)
@given(paths, hosts, st.sampled_from([b"", b"a=1", b"x=%20&x=2&y"]))
def test_the_path_is_the_one_starlettes_url_gives(
    path: str, host: str | None, query: bytes
) -> None:
    request = Request(scope_for(path, host, query, []))
    try:
        expected = request.url.path
    except ValueError:  # urllib refuses the URL: no request of this shape gets this far
        assume(False)
    assert request_path(Request(scope_for(path, host, query, []))) == expected


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(paths, hosts, st.sampled_from([b"", b"a=1&a=2", b"k=%C3%A9"]), header_lists, chunks)
def test_the_context_is_the_one_the_request_api_gives(
    path: str,
    host: str | None,
    query: bytes,
    headers: list[tuple[bytes, bytes]],
    parts: list[bytes],
) -> None:
    def build(how: Any) -> InputContext | type[Exception]:
        request = Request(scope_for(path, host, query, headers), receiver(parts))
        try:
            return asyncio.run(how(request, LIMIT))
        except (ValueError, PayloadTooLarge) as error:
            return type(error)

    expected = build(through_starlette)
    assume(expected is not ValueError)
    assert build(request_to_context) == expected


async def test_a_client_that_leaves_mid_body_is_a_client_disconnect() -> None:
    async def receive() -> dict[str, Any]:
        receive.calls += 1  # type: ignore[attr-defined]
        if receive.calls == 1:  # type: ignore[attr-defined]
            return {"type": "http.request", "body": b"part", "more_body": True}
        return {"type": "http.disconnect"}

    receive.calls = 0  # type: ignore[attr-defined]
    with pytest.raises(ClientDisconnect):
        await request_to_context(Request(scope_for("/x", None, b"", []), receive), LIMIT)


async def test_a_body_over_the_limit_is_refused_before_it_is_all_read() -> None:
    parts = [b"x" * 40, b"y" * 40, b"z" * 40]
    receive = receiver(parts)
    with pytest.raises(PayloadTooLarge):
        await request_to_context(Request(scope_for("/x", None, b"", []), receive), LIMIT)
    assert (await receive())["body"] == b"z" * 40  # the third chunk was never asked for
