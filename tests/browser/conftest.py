"""Browser tests: Debian's Chromium driven by Playwright against pytest-django's live server.

Every browser context made in a test is watched; the test fails if a page logs a console
error (a Content-Security-Policy violation is one), throws an uncaught exception, or gets
a 5xx answer. Only the favicon's 404 is tolerated: the app has no favicon.
"""

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
# Fail fast: every page here is served by a local thread in well under a second.
TIMEOUT_MS = 10_000


@pytest.fixture(scope="session")
def browser_type_launch_args() -> dict:
    """Debian's Chromium: `playwright install` cannot download on these machines."""
    return {"executable_path": CHROMIUM, "headless": True, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args, live_server) -> dict:
    """Relative URLs (`page.goto("/accounts/login/")`) go to the live server."""
    return {**browser_context_args, "base_url": live_server.url}


@pytest.fixture(autouse=True)
def browser_errors() -> list[str]:
    """What the browser reported as going wrong during the test; must stay empty."""
    return []


@pytest.fixture
def new_context(new_context, browser_errors):
    """pytest-playwright's context factory, with every context watched for errors."""

    def make(**kwargs):
        context = new_context(**kwargs)
        context.set_default_timeout(TIMEOUT_MS)
        _watch(context, browser_errors)
        return context

    return make


def _watch(context, errors: list[str]) -> None:
    def on_console(message) -> None:
        url = message.location.get("url", "")
        # A 400 is how an invalid form answers htmx (errors in the partial): expected.
        expected_400 = "status of 400" in message.text
        if message.type == "error" and not url.endswith("/favicon.ico") and not expected_400:
            errors.append(
                f"console error on {message.page.url if message.page else url}: {message.text}"
            )

    def on_page_error(error) -> None:
        errors.append(
            f"uncaught exception on {error.page.url if error.page else '?'}: {error.error}"
        )

    def on_response(response) -> None:
        if response.status >= 500:
            errors.append(f"{response.status} from {response.request.method} {response.url}")

    context.on("console", on_console)
    context.on("weberror", on_page_error)
    context.on("response", on_response)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """Turn anything the browser reported into a failure of the test itself."""
    result = yield
    errors = item.funcargs.get("browser_errors")
    if errors:
        pytest.fail("The browser reported errors:\n" + "\n".join(errors), pytrace=False)
    return result
