"""The interactive API docs work in a real browser under the strict CSP, offline."""

import pytest
from playwright.sync_api import Page, expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_api_docs_render_from_local_assets(page: Page, live_server):
    requested_hosts = set()
    page.on("request", lambda request: requested_hosts.add(request.url.split("/")[2]))

    page.goto("/api/v1/docs/")

    expect(page.get_by_role("heading", name="GenAI PO Workspace API")).to_be_visible()
    expect(page.get_by_text("/api/v1/me/", exact=True)).to_be_visible()
    assert requested_hosts == {live_server.url.split("/")[2]}
