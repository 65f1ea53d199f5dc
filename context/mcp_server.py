"""Published knowledge as an MCP tool, with the official `mcp` SDK over streamable HTTP.

Any agent framework that speaks MCP gets the organization's validated knowledge with no
glue code: the tool `search_knowledge` answers what `GET /api/v1/knowledge/search` answers,
with the same tokens (`knowledge:read` or `read`, as `Authorization: Bearer …`) and the
same selector, so the two can never disagree.

Served by `python manage.py serve_mcp` (an ASGI app under uvicorn, on 127.0.0.1:8001 in
`make run`); the endpoint is `/mcp`.
"""

from __future__ import annotations

import asyncio
from typing import Any

from django.core.exceptions import PermissionDenied
from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import MCPServer

from genai_po.actors import SCOPE_ACTIONS
from genai_po.roles import Action, Scope

TOOL_SCOPE = "knowledge:read"
MAX_RESULTS = 20


def _check_token(raw: str) -> dict | None:
    """The token's organization if it may search knowledge; None otherwise (the SDK then
    answers 401, as the REST API does)."""
    from genai_po.services import api_token_authenticate

    try:
        token = api_token_authenticate(raw)
    except PermissionDenied:  # wrong, revoked or expired: the SDK answers 401
        return None
    allowed = any(Action.SEARCH_KNOWLEDGE in SCOPE_ACTIONS[Scope(s)] for s in token.scopes)
    if not allowed:
        return None
    return {"organization_id": token.organization_id, "token_id": token.pk}


class ApiTokenVerifier:
    """The workspace's own API tokens, checked as the REST API checks them."""

    async def verify_token(self, token: str) -> AccessToken | None:
        found = await _in_thread(_check_token, token)
        if found is None:
            return None
        return AccessToken(
            token=token, client_id=f"token:{found['token_id']}", scopes=[TOOL_SCOPE],
            claims={"organization_id": found["organization_id"]},
        )  # fmt: skip


def _search(organization_id: int, query: str, use_case: str, limit: int) -> dict[str, Any]:
    from context import selectors
    from context.api.serializers import knowledge_hit_data
    from context.api.views import use_case_id_of
    from genai_po.models import Organization

    organization = Organization.objects.get(pk=organization_id)
    query = " ".join(str(query or "").split())[:1000]
    if not query:
        return {"query": "", "count": 0, "results": [], "error": "Give a question to search."}
    try:
        use_case_id = use_case_id_of(organization, use_case) if use_case else None
    except LookupError as exc:
        return {"query": query, "count": 0, "results": [], "error": str(exc)}
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_RESULTS:
        return {
            "query": query,
            "count": 0,
            "results": [],
            "error": f"limit is a whole number from 1 to {MAX_RESULTS}.",
        }
    hits = selectors.knowledge_search(organization, query, use_case_id=use_case_id, limit=limit)
    results = [knowledge_hit_data(hit.item, hit.score) for hit in hits]
    return {"query": query, "count": len(results), "results": results}


async def _in_thread(function, *args):
    """Database work in a worker thread, which gives its connection back afterwards (as
    Django's request cycle does for the web app)."""

    def run():
        from context.search import release_connection

        try:
            return function(*args)
        finally:
            release_connection()

    return await asyncio.to_thread(run)


def build_server(public_url: str) -> MCPServer:
    """The MCP server of this workspace; `public_url` is where clients reach it."""
    server = MCPServer(
        name="genai-po-knowledge",
        instructions="Search the organization's published, reviewed knowledge before "
        "answering a user; cite the item key (KB-n) you use.",
        token_verifier=ApiTokenVerifier(),
        auth=AuthSettings(
            issuer_url=public_url,
            resource_server_url=f"{public_url}/mcp",
            required_scopes=[TOOL_SCOPE],
            # Our tokens belong to an organization, not to an audience: the verifier checks
            # them as the REST API does.
            validate_token_resource=False,
        ),  # fmt: skip
    )

    @server.tool(
        name="search_knowledge",
        structured_output=True,
        description="Ranked published knowledge of your organization for a question: each "
        "result has its key (KB-n), title, answer, scope, citations and a score in (0, 1].",
    )
    async def search_knowledge(query: str, use_case: str = "", limit: int = 5) -> dict[str, Any]:
        access = get_access_token()
        if access is None or not access.claims:
            return {"query": query, "count": 0, "results": [], "error": "Not authenticated."}
        return await _in_thread(_search, access.claims["organization_id"], query, use_case, limit)

    return server


def asgi_app(public_url: str):
    """The streamable HTTP app (stateless, JSON answers): one request, one answer.

    A GET would open a server-to-client event stream that, stateless, can never carry
    anything and never ends: it is refused (405), as the transport allows."""
    app = build_server(public_url).streamable_http_app(
        streamable_http_path="/mcp", stateless_http=True, json_response=True
    )

    async def no_event_stream(scope, receive, send):
        if scope["type"] == "http" and scope["method"] == "GET":
            await send(
                {
                    "type": "http.response.start",
                    "status": 405,
                    "headers": [(b"allow", b"POST, DELETE"), (b"content-type", b"text/plain")],
                }
            )
            await send({"type": "http.response.body", "body": b"POST JSON-RPC requests to /mcp."})
            return
        await app(scope, receive, send)

    return no_event_stream
