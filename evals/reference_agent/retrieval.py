"""Where the reference agent gets its knowledge for a question.

- `HttpRetriever`: the organization's knowledge search API
  (`GET …/api/v1/knowledge/search?q=…`, a `knowledge:read` token), called for every
  question: what `make run` and the full stack use. An answer it cannot get is no
  knowledge (the agent hands off), never an error to the caller.
- `StaticRetriever`: a fixed set of items (tests, benchmarks, demo seeding).

Standard library only, like the rest of the agent.
"""

import json
import logging
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path

from evals.reference_agent.knowledge import KnowledgeItem

logger = logging.getLogger(__name__)
Retriever = Callable[[str], Sequence[KnowledgeItem]]
TOP_K = 5


class StaticRetriever:
    """Every question sees the same items."""

    def __init__(self, items: Sequence[KnowledgeItem]) -> None:
        self.items = tuple(items)

    def __call__(self, question: str) -> Sequence[KnowledgeItem]:
        return self.items


class HttpRetriever:
    """The knowledge search API. The token comes from a file (read on each call, so a
    token written after the agent started is used) or is given directly."""

    def __init__(self, url: str, *, token: str = "", token_file: str = "", use_case: str = "",
                 timeout: float = 5.0) -> None:  # fmt: skip
        if not url.startswith(("http://127.0.0.1", "http://localhost", "http://[::1]")):
            raise ValueError("The reference agent only calls a knowledge API on loopback.")
        self.url, self.use_case, self.timeout = url, use_case, timeout
        self._token, self._token_file = token, token_file
        self.calls = 0

    def _bearer(self) -> str:
        if self._token:
            return self._token
        if self._token_file:
            try:
                return Path(self._token_file).read_text().strip()
            except OSError:
                return ""
        return ""

    def __call__(self, question: str) -> Sequence[KnowledgeItem]:
        query = {"q": question[:1000], "limit": str(TOP_K)}
        if self.use_case:
            query["use_case"] = self.use_case
        request = urllib.request.Request(  # noqa: S310 - loopback only, checked above
            f"{self.url}?{urllib.parse.urlencode(query)}",
            headers={"Authorization": f"Bearer {self._bearer()}", "Accept": "application/json"},
        )
        self.calls += 1
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                data = json.loads(response.read(2_000_000))
        except (OSError, ValueError) as error:  # HTTPError, URLError, timeouts, bad JSON
            logger.warning("reference agent: knowledge search failed: %s", error)
            return ()
        results = data.get("results") if isinstance(data, dict) else None
        if not isinstance(results, list):
            return ()
        return tuple(KnowledgeItem.from_search_result(r) for r in results if isinstance(r, dict))
