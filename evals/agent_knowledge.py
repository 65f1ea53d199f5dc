"""What the reference agent knows, seen from the evals area.

The agent answers from the organization's published knowledge. In `make run` it calls the
knowledge search API over HTTP with a `knowledge:read` token kept in `token_file()` (the
context area's demo step writes it). When this process starts an agent itself (seeding the
demo), it gives it the published items from the provider the context area registers.
"""

from collections.abc import Callable
from pathlib import Path

from django.conf import settings

from evals.reference_agent.knowledge import KnowledgeItem

# (organization id) -> the organization's published items, as the agent reads them
KnowledgeProvider = Callable[[int], "list[KnowledgeItem]"]

_PROVIDER: list[KnowledgeProvider] = []


def register_published_knowledge(provider: KnowledgeProvider) -> None:
    _PROVIDER[:] = [provider]


def published_knowledge(organization_id: int) -> list[KnowledgeItem]:
    """The organization's published knowledge, or none when no area provides it."""
    return list(_PROVIDER[0](organization_id)) if _PROVIDER else []


def token_file() -> Path:
    """Where `make run`'s reference agent reads its knowledge:read token."""
    return settings.VAR_DIR / "reference_agent_token"


def search_url() -> str:
    """The knowledge search API of this workspace, as the agent on this machine calls it."""
    port = settings.GENAI_PO_PORT
    return f"http://127.0.0.1:{port}/api/v1/knowledge/search"
