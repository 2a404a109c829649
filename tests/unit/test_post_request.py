"""``post_request`` builds the request ``httpx.Request(content=...)`` would, header for header."""

from __future__ import annotations

import asyncio

import httpx
from hypothesis import given, settings
from hypothesis import strategies as st

from reference.gateway.services.transport import post_request

names = st.sampled_from(
    ["content-type", "X-Request-ID", "traceparent", "host", "Content-Length", "transfer-encoding"]
)
values = st.text(alphabet=st.characters(max_codepoint=300, exclude_categories=["Cs"]), max_size=8)
urls = st.sampled_from(
    ["http://127.0.0.1:4444/2015-03-31/functions/function/invocations", "http://[::1]:80/x"]
)


def shape(build: object) -> object:
    """What the worker would receive, or the error that stops the call."""
    try:
        request = build()  # type: ignore[operator]
    except (UnicodeEncodeError, TypeError) as error:
        return type(error)
    body = asyncio.run(request.aread())
    return request.method, str(request.url), request.headers.raw, body


@settings(max_examples=400, deadline=None)
@given(urls, st.binary(max_size=20), st.dictionaries(names, values, max_size=3))
def test_the_request_is_httpxs_own(url: str, body: bytes, headers: dict[str, str]) -> None:
    parsed = httpx.URL(url)
    expected = shape(lambda: httpx.Request("POST", parsed, content=body, headers=headers))
    assert shape(lambda: post_request(parsed, body, headers)) == expected


def test_a_transport_reads_its_body_as_from_a_content_request() -> None:
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((request.content, request.headers["content-length"]))
        return httpx.Response(200)

    transport = httpx.MockTransport(handler)
    request = post_request(httpx.URL("http://w:1/x"), b'{"a":1}', {"content-type": "a/b"})
    assert asyncio.run(transport.handle_async_request(request)).status_code == 200
    assert seen == [(b'{"a":1}', "7")]
