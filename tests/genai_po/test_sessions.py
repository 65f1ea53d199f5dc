"""Browser sessions: idle timeout, absolute lifetime, "sign out everywhere"."""

import time
from datetime import timedelta

import pytest
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.models import Session
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from genai_po.middleware import SIGNED_IN_AT
from genai_po.models import User
from genai_po.roles import Role
from tests.factories import TEST_PASSWORD

LOGIN = "/accounts/login/"
SECURITY = "/accounts/security/"
ORG_HOME = "/o/org-a/"


def signed_in_client(user, **defaults) -> Client:
    """A separate browser that signed in through the real sign-in form."""
    browser = Client(**defaults)
    response = browser.post(LOGIN, {"username": user.email, "password": TEST_PASSWORD})
    assert response.status_code == 302, response.content
    return browser


def login_redirect(path: str) -> str:
    return f"{LOGIN}?next={path}"


@pytest.fixture
def owner(owner_a):
    return owner_a.user


# --- Idle timeout


def test_idle_timeout_is_the_cookie_age_renewed_on_every_request(settings):
    assert settings.SESSION_COOKIE_AGE == settings.SESSION_IDLE_TIMEOUT
    assert settings.SESSION_SAVE_EVERY_REQUEST is True
    assert settings.SESSION_EXPIRE_AT_BROWSER_CLOSE is False
    assert settings.SESSION_IDLE_TIMEOUT < settings.SESSION_ABSOLUTE_LIFETIME


@pytest.mark.django_db
def test_every_request_renews_the_session_cookie(owner, settings):
    browser = signed_in_client(owner)

    for _ in range(2):
        response = browser.get(ORG_HOME)
        assert response.status_code == 200
        cookie = response.cookies[settings.SESSION_COOKIE_NAME]
        assert cookie["max-age"] == settings.SESSION_IDLE_TIMEOUT
        assert cookie["httponly"] is True
        assert cookie["samesite"] == "Lax"


@pytest.mark.django_db
def test_idle_session_is_signed_out(owner):
    browser = signed_in_client(owner)
    assert browser.get(ORG_HOME).status_code == 200
    session_key = browser.session.session_key

    # What SESSION_IDLE_TIMEOUT seconds without a request leave behind: an expired row.
    Session.objects.filter(session_key=session_key).update(
        expire_date=timezone.now() - timedelta(seconds=1)
    )
    cache.clear()  # the cached_db engine's copy expires at the same moment

    response = browser.get(ORG_HOME)
    assert response.status_code == 302
    assert response["Location"] == login_redirect(ORG_HOME)


# --- Absolute lifetime


@pytest.mark.django_db
def test_sign_in_records_when_it_happened(owner):
    before = int(time.time())
    browser = signed_in_client(owner)
    assert before <= browser.session[SIGNED_IN_AT] <= int(time.time())


@pytest.mark.django_db
def test_session_within_its_lifetime_stays(owner, settings):
    browser = signed_in_client(owner)
    session = browser.session
    session[SIGNED_IN_AT] = int(time.time()) - settings.SESSION_ABSOLUTE_LIFETIME + 60
    session.save()

    assert browser.get(ORG_HOME).status_code == 200


@pytest.mark.django_db
def test_session_past_its_absolute_lifetime_is_signed_out_and_sent_to_login(owner, settings):
    browser = signed_in_client(owner)
    session = browser.session
    session[SIGNED_IN_AT] = int(time.time()) - settings.SESSION_ABSOLUTE_LIFETIME - 60
    session.save()

    response = browser.get(ORG_HOME)

    assert response.status_code == 302
    assert response["Location"] == LOGIN
    assert SESSION_KEY not in browser.session
    page = browser.get(LOGIN)
    assert [str(m) for m in page.context["messages"]] == [
        "Your session has ended. Please sign in again."
    ]


@pytest.mark.django_db
def test_session_past_its_absolute_lifetime_is_destroyed_on_the_server(owner, settings):
    browser = signed_in_client(owner)
    browser.raise_request_exception = False
    session = browser.session
    session[SIGNED_IN_AT] = int(time.time()) - settings.SESSION_ABSOLUTE_LIFETIME - 60
    session.save()
    old_key = session.session_key

    browser.get(ORG_HOME)

    assert not Session.objects.filter(session_key=old_key).exists()
    response = browser.get(ORG_HOME)
    assert response.status_code == 302
    assert response["Location"] == login_redirect(ORG_HOME)


# --- Sign out everywhere


@pytest.mark.django_db
def test_security_page_states_the_limits(owner, settings):
    browser = signed_in_client(owner)
    response = browser.get(SECURITY)

    assert response.status_code == 200
    assert (
        f"A session ends after {settings.SESSION_IDLE_TIMEOUT // 60} minutes without activity, "
        f"and at the latest {settings.SESSION_ABSOLUTE_LIFETIME // 3600} hours after sign-in."
    ) in response.content.decode()


@pytest.mark.django_db
def test_sign_out_everywhere_ends_every_session_of_the_user_only(owner, org_a, member_factory):
    colleague = member_factory(org_a, Role.VIEWER).user
    laptop = signed_in_client(owner)
    phone = signed_in_client(owner, REMOTE_ADDR="10.0.0.7")
    colleagues_browser = signed_in_client(colleague)
    for browser in (laptop, phone, colleagues_browser):
        assert browser.get(ORG_HOME).status_code == 200

    response = laptop.post(SECURITY)

    assert response.status_code == 302
    assert response["Location"] == LOGIN
    assert User.objects.get(pk=owner.pk).session_generation == 1
    assert User.objects.get(pk=colleague.pk).session_generation == 0
    for browser in (laptop, phone):
        response = browser.get(ORG_HOME)
        assert response.status_code == 302
        assert response["Location"] == login_redirect(ORG_HOME)
        assert SESSION_KEY not in browser.session
    assert colleagues_browser.get(ORG_HOME).status_code == 200

    # The user can sign in again right away.
    again = signed_in_client(owner)
    assert again.get(ORG_HOME).status_code == 200


@pytest.mark.django_db
def test_sign_out_everywhere_confirms_on_the_sign_in_page(owner):
    browser = signed_in_client(owner)
    page = browser.post(SECURITY, follow=True)
    assert page.redirect_chain == [(LOGIN, 302)]
    assert [str(m) for m in page.context["messages"]] == [
        "You have been signed out of every session, this one included."
    ]


@pytest.mark.django_db
def test_sign_out_everywhere_needs_a_signed_in_user(client, owner):
    response = client.post(SECURITY)
    assert response.status_code == 302
    assert response["Location"] == login_redirect(SECURITY)
    assert User.objects.get(pk=owner.pk).session_generation == 0


@pytest.mark.django_db
def test_sign_out_everywhere_is_not_a_get(owner):
    browser = signed_in_client(owner)
    assert browser.get(SECURITY).status_code == 200
    assert browser.put(SECURITY).status_code == 405
    assert User.objects.get(pk=owner.pk).session_generation == 0
    assert browser.get(ORG_HOME).status_code == 200
