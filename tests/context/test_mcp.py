"""Published knowledge as an MCP tool over streamable HTTP (the official SDK on both ends):
the same tokens and scope as the knowledge search API, published items of the token's
organization only."""

import asyncio
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx2
import pytest
import uvicorn
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

from context import services
from context.mcp_server import asgi_app
from tests.context.conftest import actor_of
from tests.factories.context import make_knowledge, make_sme

pytestmark = pytest.mark.django_db(transaction=True)  # the server's threads read the data


@pytest.fixture
def mcp_url():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    server = uvicorn.Server(uvicorn.Config(asgi_app(url), host="127.0.0.1", port=port,
                                           log_level="warning"))  # fmt: skip
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"{url}/mcp"
    server.should_exit = True
    thread.join(timeout=10)


def _run(coroutine):
    """asyncio.run in a thread of its own: the browser tests leave an event loop running in
    the main thread of the test session."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result(timeout=60)


async def _call(url: str, raw: str | None, query: str, **arguments) -> tuple[list[str], dict]:
    headers = {"Authorization": f"Bearer {raw}"} if raw else {}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=20) as http,
        streamable_http_client(url, http_client=http) as (read, write),
        ClientSession(read, write) as client,
    ):
        await client.initialize()
        tools = await client.list_tools()
        result = await client.call_tool("search_knowledge", {"query": query, **arguments})
    return [tool.name for tool in tools.tools], result.structured_content


def test_the_tool_finds_published_knowledge_of_the_tokens_org_only(
    mcp_url, org_a, org_b, token_factory
):
    gift = make_knowledge(
        org_a,
        title="Gift card refunds",
        question="gift card refund",
        body="Gift cards are refundable within 14 days if unused.",
    )
    retired = make_knowledge(
        org_a, title="Old gift card rule", question="gift card refund", body="Never refunded."
    )
    services.knowledge_retire(actor=actor_of(make_sme(org_a)), item=retired, reason="Superseded")
    make_knowledge(org_b, title="B gift cards", question="gift card refund", body="30 days.")
    _, raw = token_factory(org_a, scopes=["knowledge:read"])

    names, found = _run(_call(mcp_url, raw, "Can I refund a gift card?"))

    assert names == ["search_knowledge"]
    assert [r["key"] for r in found["results"]] == [gift.key]
    assert found["results"][0]["answer"] == "Gift cards are refundable within 14 days if unused."
    assert 0 < found["results"][0]["score"] <= 1


@pytest.mark.parametrize("scopes", [None, ["telemetry:write"], "revoked"])
def test_without_a_knowledge_token_the_server_answers_401(mcp_url, org_a, token_factory, scopes):
    raw = None
    if scopes == "revoked":
        token, raw = token_factory(org_a, scopes=["knowledge:read"])
        token.revoked_at = token.created_at
        token.save()
    elif scopes:
        _, raw = token_factory(org_a, scopes=scopes)
    headers = {"Authorization": f"Bearer {raw}"} if raw else {}
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "t", "version": "1"},
        },
    }
    response = httpx2.post(
        mcp_url,
        json=body,
        timeout=10,
        headers={**headers, "Accept": "application/json, text/event-stream"},
    )
    assert response.status_code == 401


def test_a_bad_limit_is_said_not_clamped(mcp_url, org_a, token_factory):
    make_knowledge(org_a)
    _, raw = token_factory(org_a, scopes=["knowledge:read"])
    for limit in (0, 51, -1):
        _, result = _run(_call(mcp_url, raw, "gift card", limit=limit))
        assert result["count"] == 0 and "limit is a whole number from 1 to" in result["error"]
    _, result = _run(_call(mcp_url, raw, "gift card", limit=3))
    assert result["count"] == 1


def test_no_endless_event_stream_is_opened(mcp_url, org_a, token_factory):
    _, raw = token_factory(org_a, scopes=["knowledge:read"])
    response = httpx2.get(
        mcp_url,
        headers={"Authorization": f"Bearer {raw}", "Accept": "text/event-stream"},
        timeout=5,
    )
    assert response.status_code == 405 and "POST" in response.headers["allow"]
