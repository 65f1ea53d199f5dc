"""Accounts: sign up, sign in, sign out, password reset and change, sign-in throttling."""

import os
import re

import pytest
from django.contrib.auth import SESSION_KEY
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from django.test import Client

from genai_po import throttle
from genai_po.middleware import SIGNED_IN_AT
from genai_po.models import User
from tests.factories import TEST_PASSWORD, UserFactory

LOGIN = "/accounts/login/"
LOGOUT = "/accounts/logout/"
SIGNUP = "/accounts/signup/"
RESET = "/accounts/password/reset/"
CHANGE = "/accounts/password/change/"
NEW_PASSWORD = "violet-lantern-orchard-42"
WRONG = "wrong-password-123"
RESET_LINK = re.compile(
    r"^http://testserver(?P<path>/accounts/password/reset/(?P<uid>[^/\s]+)/(?P<token>[^/\s]+)/)$",
    re.MULTILINE,
)


def sign_in(client, email, password, **extra):
    return client.post(LOGIN, {"username": email, "password": password}, **extra)


def signed_in_user_id(client):
    return client.session.get(SESSION_KEY)


def form_errors(response):
    return response.context["form"].errors


def sign_up_data(**overrides):
    data = {
        "full_name": "Ada Lovelace",
        "email": "ada@example.com",
        "password1": NEW_PASSWORD,
        "password2": NEW_PASSWORD,
    }
    data.update(overrides)
    return data


@pytest.fixture
def user(db):
    return UserFactory(email="member@example.com")


@pytest.fixture(autouse=True)
def _throttle_limits(settings):
    """Limits low enough to reach in a test, independent of the environment."""
    settings.LOGIN_FAILURE_LIMIT = 3
    settings.LOGIN_ACCOUNT_FAILURE_LIMIT = 20
    settings.LOGIN_ACCOUNT_BACKOFF_SECONDS = 30
    settings.LOGIN_IP_FAILURE_LIMIT = 30
    settings.LOGIN_LOCKOUT_SECONDS = 15 * 60


ACCOUNT_LOCKED = (
    "Too many failed sign-in attempts for this account from your network. "
    "Try again in 15 minutes, or reset your password."
)
NETWORK_LIMITED = "Too many failed sign-in attempts from your network. Try again in 15 minutes."
WRONG_LOGIN = "Wrong email or password."


# --- Sign up


@pytest.mark.django_db
class TestSignUp:
    def test_page_renders_the_form(self, client):
        response = client.get(SIGNUP)
        assert response.status_code == 200
        assert list(response.context["form"].fields) == [
            "full_name",
            "email",
            "password1",
            "password2",
        ]

    def test_success_creates_user_signs_in_and_lands_on_org_creation(self, client):
        response = client.post(SIGNUP, sign_up_data(email="Ada@Example.COM"))

        assert response.status_code == 302
        assert response["Location"] == "/orgs/new/"
        new_user = User.objects.get()
        assert new_user.email == "ada@example.com"
        assert new_user.full_name == "Ada Lovelace"
        assert new_user.password.startswith("argon2$argon2id$")
        assert new_user.check_password(NEW_PASSWORD)
        assert signed_in_user_id(client) == str(new_user.pk)
        assert isinstance(client.session[SIGNED_IN_AT], int)

        page = client.get("/orgs/new/")
        assert page.status_code == 200
        assert [t.name for t in page.templates][0] == "genai_po/org_create.html"
        assert [str(m) for m in page.context["messages"]] == [
            "Welcome! Create an organization or accept an invitation."
        ]

    def test_duplicate_email_is_refused_case_insensitively(self, client, user):
        response = client.post(SIGNUP, sign_up_data(email="MEMBER@example.com"))

        assert response.status_code == 200
        assert form_errors(response) == {
            "email": ["An account with this email already exists. Sign in instead."]
        }
        assert User.objects.count() == 1
        assert signed_in_user_id(client) is None

    def test_mismatched_passwords_are_refused(self, client):
        response = client.post(SIGNUP, sign_up_data(password2=NEW_PASSWORD + "x"))

        assert response.status_code == 200
        assert form_errors(response) == {"password2": ["The two passwords differ."]}
        assert not User.objects.exists()

    @pytest.mark.parametrize(
        ("password", "errors"),
        [
            (
                "password",
                [
                    "This password is too short. It must contain at least 10 characters.",
                    "This password is too common.",
                ],
            ),
            ("8316402957", ["This password is entirely numeric."]),
            ("ada@example.com", ["The password is too similar to the email address."]),
        ],
    )
    def test_weak_passwords_are_refused(self, client, password, errors):
        response = client.post(SIGNUP, sign_up_data(password1=password, password2=password))

        assert response.status_code == 200
        assert form_errors(response) == {"password1": errors}
        assert not User.objects.exists()

    def test_next_to_an_invitation_is_followed(self, client):
        response = client.post(f"{SIGNUP}?next=/invitations/abc123/", sign_up_data())
        assert response["Location"] == "/invitations/abc123/"

    def test_next_to_another_site_is_ignored(self, client):
        response = client.post(f"{SIGNUP}?next=https://evil.example/", sign_up_data())
        assert response["Location"] == "/orgs/new/"

    def test_signed_in_user_is_sent_home(self, client, user):
        client.force_login(user)
        response = client.get(SIGNUP)
        assert response.status_code == 302
        assert response["Location"] == "/"


# --- Sign in and sign out


@pytest.mark.django_db
class TestSignIn:
    def test_correct_password_signs_in(self, client, user):
        response = sign_in(client, "member@example.com", TEST_PASSWORD)

        assert response.status_code == 302
        assert response["Location"] == "/"
        assert signed_in_user_id(client) == str(user.pk)
        assert isinstance(client.session[SIGNED_IN_AT], int)

    def test_email_is_case_insensitive(self, client, user):
        sign_in(client, "  Member@EXAMPLE.com", TEST_PASSWORD)
        assert signed_in_user_id(client) == str(user.pk)

    def test_wrong_password_is_refused(self, client, user):
        response = sign_in(client, "member@example.com", WRONG)

        assert response.status_code == 200
        assert form_errors(response) == {"__all__": [WRONG_LOGIN]}
        assert signed_in_user_id(client) is None

    def test_unknown_email_gets_the_same_answer(self, client, user):
        response = sign_in(client, "nobody@example.com", WRONG)
        assert form_errors(response) == {"__all__": [WRONG_LOGIN]}

    def test_inactive_account_is_refused(self, client, user):
        User.objects.filter(pk=user.pk).update(is_active=False)
        response = sign_in(client, "member@example.com", TEST_PASSWORD)
        assert form_errors(response) == {"__all__": [WRONG_LOGIN]}
        assert signed_in_user_id(client) is None

    def test_safe_next_is_followed_and_foreign_next_is_ignored(self, client, user):
        response = client.post(
            LOGIN,
            {"username": "member@example.com", "password": TEST_PASSWORD, "next": "/orgs/"},
        )
        assert response["Location"] == "/orgs/"

        other = Client()
        response = other.post(
            LOGIN,
            {
                "username": "member@example.com",
                "password": TEST_PASSWORD,
                "next": "https://evil.example/",
            },
        )
        assert response["Location"] == "/"

    def test_password_is_stored_with_argon2(self, user):
        assert User.objects.get(pk=user.pk).password.startswith("argon2$argon2id$")


@pytest.mark.django_db
class TestSignOut:
    def test_get_is_not_allowed_and_keeps_the_session(self, client, user):
        client.force_login(user)
        response = client.get(LOGOUT)

        assert response.status_code == 405
        assert response["Allow"] == "POST"
        assert signed_in_user_id(client) == str(user.pk)

    def test_post_signs_out(self, client, user):
        sign_in(client, "member@example.com", TEST_PASSWORD)
        response = client.post(LOGOUT)

        assert response.status_code == 302
        assert response["Location"] == LOGIN
        assert signed_in_user_id(client) is None
        assert client.get("/orgs/")["Location"] == f"{LOGIN}?next=/orgs/"
        page = client.get(LOGIN)
        assert [str(m) for m in page.context["messages"]] == ["You are signed out."]

    def test_every_page_signs_out_with_a_post_form(self, client, user):
        client.force_login(user)
        html = client.get("/orgs/").content.decode()
        assert f'<form method="post" action="{LOGOUT}"' in html


# --- Password reset and change


@pytest.mark.django_db
class TestPasswordReset:
    def _ask(self, client, mailoutbox, email="member@example.com"):
        response = client.post(RESET, {"email": email})
        assert response.status_code == 302
        assert response["Location"] == "/accounts/password/reset/sent/"
        return mailoutbox

    def test_email_holds_a_link_that_sets_a_new_password_once(self, client, user, mailoutbox):
        self._ask(client, mailoutbox, email="MEMBER@example.com")

        assert len(mailoutbox) == 1
        mail = mailoutbox[0]
        assert mail.to == ["member@example.com"]
        assert mail.subject == "Reset your GenAI PO Workspace password"
        links = RESET_LINK.findall(mail.body)
        assert len(links) == 1
        link = RESET_LINK.search(mail.body)["path"]

        # Django swaps the token for a session marker so it leaks no further.
        response = client.get(link)
        assert response.status_code == 302
        set_password_url = response["Location"]
        assert set_password_url.endswith("/set-password/")
        assert client.get(set_password_url).context["validlink"] is True

        response = client.post(
            set_password_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
        )
        assert response.status_code == 302
        assert response["Location"] == "/accounts/password/reset/complete/"

        user.refresh_from_db()
        assert user.check_password(NEW_PASSWORD)
        assert user.password.startswith("argon2$argon2id$")
        fresh = Client()
        assert sign_in(fresh, "member@example.com", TEST_PASSWORD).status_code == 200
        assert sign_in(fresh, "member@example.com", NEW_PASSWORD)["Location"] == "/"

        # The same link, again, in this browser or another one: dead.
        for browser in (client, Client()):
            again = browser.get(link, follow=True)
            assert again.status_code == 200
            assert again.context["validlink"] is False
            assert "This link no longer works" in again.content.decode()
        user.refresh_from_db()
        assert user.check_password(NEW_PASSWORD)

    def test_weak_new_password_is_refused(self, client, user, mailoutbox):
        self._ask(client, mailoutbox)
        link = RESET_LINK.search(mailoutbox[0].body)["path"]
        set_password_url = client.get(link)["Location"]

        response = client.post(
            set_password_url, {"new_password1": "password", "new_password2": "password"}
        )
        assert response.status_code == 200
        assert response.context["form"].errors == {
            "new_password2": [
                "This password is too short. It must contain at least 10 characters.",
                "This password is too common.",
            ]
        }
        user.refresh_from_db()
        assert user.check_password(TEST_PASSWORD)

    def test_unknown_email_sends_nothing_and_says_the_same(self, client, user, mailoutbox):
        self._ask(client, mailoutbox, email="nobody@example.com")
        assert mailoutbox == []

    def test_tampered_token_is_refused(self, client, user, mailoutbox):
        self._ask(client, mailoutbox)
        match = RESET_LINK.search(mailoutbox[0].body)
        forged = f"/accounts/password/reset/{match['uid']}/{match['token'][:-3]}abc/"
        response = client.get(forged)
        assert response.status_code == 200
        assert response.context["validlink"] is False


@pytest.mark.django_db
class TestPasswordChange:
    def test_requires_sign_in(self, client):
        response = client.get(CHANGE)
        assert response.status_code == 302
        assert response["Location"] == f"{LOGIN}?next={CHANGE}"

    def test_wrong_old_password_is_refused(self, client, user):
        client.force_login(user)
        response = client.post(
            CHANGE,
            {"old_password": WRONG, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
        )
        assert response.status_code == 200
        assert response.context["form"].errors == {
            "old_password": ["Your old password was entered incorrectly. Please enter it again."]
        }
        user.refresh_from_db()
        assert user.check_password(TEST_PASSWORD)

    def test_change_keeps_this_session_and_ends_the_others(self, client, user):
        sign_in(client, "member@example.com", TEST_PASSWORD)
        elsewhere = Client()
        sign_in(elsewhere, "member@example.com", TEST_PASSWORD)

        response = client.post(
            CHANGE,
            {
                "old_password": TEST_PASSWORD,
                "new_password1": NEW_PASSWORD,
                "new_password2": NEW_PASSWORD,
            },
        )

        assert response.status_code == 302
        assert response["Location"] == "/accounts/password/change/done/"
        user.refresh_from_db()
        assert user.password.startswith("argon2$argon2id$")
        assert user.check_password(NEW_PASSWORD)
        assert client.get("/orgs/").status_code == 200
        assert elsewhere.get("/orgs/")["Location"] == f"{LOGIN}?next=/orgs/"


# --- Sign-in throttling


@pytest.mark.django_db
class TestSignInThrottle:
    @pytest.fixture
    def user(self, db, settings):
        # Hashing is not under test here, and each attempt would cost an Argon2 run.
        settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
        return UserFactory(email="member@example.com")

    def test_throttle_lives_in_the_redis_cache(self, settings):
        assert settings.CACHES["default"]["BACKEND"] == (
            "django.core.cache.backends.redis.RedisCache"
        )
        assert isinstance(caches["default"], RedisCache)
        assert settings.CACHES["default"]["LOCATION"] == os.environ["CACHE_URL"]

    def test_account_locks_after_the_limit_even_for_the_right_password(self, client, user):
        for _ in range(3):
            response = sign_in(client, "member@example.com", WRONG)
            assert form_errors(response) == {"__all__": [WRONG_LOGIN]}

        response = sign_in(client, "Member@example.com", TEST_PASSWORD)

        assert response.status_code == 200
        assert form_errors(response) == {"__all__": [ACCOUNT_LOCKED]}
        assert ACCOUNT_LOCKED in response.content.decode()
        assert signed_in_user_id(client) is None
        # The lock is on (account, address): whoever guessed cannot lock the owner out
        # from everywhere.
        other = Client(REMOTE_ADDR="10.1.2.3")
        assert sign_in(other, "member@example.com", TEST_PASSWORD).status_code == 302

    def test_guessing_from_many_addresses_meets_a_doubling_account_back_off(
        self, client, user, settings, monkeypatch
    ):
        settings.LOGIN_ACCOUNT_FAILURE_LIMIT = 6
        now = [1_000_000.0]
        monkeypatch.setattr(throttle.time, "time", lambda: now[0])
        for n in range(6):  # two guesses from each of three addresses: no pair is locked
            response = sign_in(Client(REMOTE_ADDR=f"10.0.0.{n // 2}"), "member@example.com",
                               WRONG)  # fmt: skip
            assert form_errors(response) == {"__all__": [WRONG_LOGIN]}

        elsewhere = Client(REMOTE_ADDR="10.9.9.9")
        response = sign_in(elsewhere, "member@example.com", TEST_PASSWORD)
        assert form_errors(response) == {"__all__": [
            "This account had many failed sign-in attempts: wait 30 seconds before trying "
            "again, or reset your password."
        ]}  # fmt: skip
        now[0] += 31  # the back-off is over: the owner gets in
        assert sign_in(elsewhere, "member@example.com", TEST_PASSWORD).status_code == 302
        # The next failure doubles it.
        sign_in(Client(REMOTE_ADDR="10.0.0.7"), "member@example.com", WRONG)
        assert "wait 60 seconds" in str(form_errors(sign_in(client, "member@example.com", WRONG)))

    def test_a_password_reset_lifts_the_locks(self, client, user, mailoutbox):
        for _ in range(3):
            sign_in(client, "member@example.com", WRONG)
        assert form_errors(sign_in(client, "member@example.com", TEST_PASSWORD)) == {
            "__all__": [ACCOUNT_LOCKED]
        }

        client.post("/accounts/password/reset/", {"email": "member@example.com"})
        link = re.search(r"http://\S+/accounts/password/reset/\S+/", mailoutbox[-1].body).group()
        page = client.get(link, follow=True)
        client.post(page.request["PATH_INFO"], {"new_password1": "A-new-pass-2026!",
                                                "new_password2": "A-new-pass-2026!"})  # fmt: skip

        assert sign_in(client, "member@example.com", "A-new-pass-2026!").status_code == 302

    def test_lock_is_per_account(self, client, user):
        UserFactory(email="colleague@example.com")
        for _ in range(3):
            sign_in(client, "member@example.com", WRONG)

        response = sign_in(client, "colleague@example.com", TEST_PASSWORD)
        assert response.status_code == 302

    def test_lock_is_kept_in_the_shared_cache(self, client, user):
        for _ in range(3):
            sign_in(client, "member@example.com", WRONG)
        assert form_errors(sign_in(client, "member@example.com", TEST_PASSWORD)) == {
            "__all__": [ACCOUNT_LOCKED]
        }

        cache.clear()  # what the lockout window expiring amounts to

        assert sign_in(client, "member@example.com", TEST_PASSWORD).status_code == 302

    def test_unknown_email_gets_the_same_lockout_message(self, client, user):
        answers = []
        for email in ("member@example.com", "nobody@example.com"):
            for _ in range(3):
                sign_in(client, email, WRONG)
            answers.append(form_errors(sign_in(client, email, WRONG)))

        assert answers == [{"__all__": [ACCOUNT_LOCKED]}, {"__all__": [ACCOUNT_LOCKED]}]

    def test_success_before_the_limit_resets_the_counter(self, client, user):
        for _ in range(2):
            sign_in(client, "member@example.com", WRONG)
        assert sign_in(client, "member@example.com", TEST_PASSWORD).status_code == 302
        client.post(LOGOUT)

        for _ in range(2):
            response = sign_in(client, "member@example.com", WRONG)
            assert form_errors(response) == {"__all__": [WRONG_LOGIN]}

        assert sign_in(client, "member@example.com", TEST_PASSWORD).status_code == 302

    def test_empty_password_does_not_reset_the_counter(self, client, user):
        sign_in(client, "member@example.com", WRONG)
        sign_in(client, "member@example.com", WRONG)
        empty = sign_in(client, "member@example.com", "")
        assert form_errors(empty) == {"password": ["This field is required."]}
        sign_in(client, "member@example.com", WRONG)

        response = sign_in(client, "member@example.com", TEST_PASSWORD)

        assert form_errors(response) == {"__all__": [ACCOUNT_LOCKED]}
        assert signed_in_user_id(client) is None

    def test_address_is_rate_limited_across_emails(self, client, user, settings):
        settings.LOGIN_IP_FAILURE_LIMIT = 4
        for n in range(4):
            response = sign_in(client, f"guess{n}@example.com", WRONG)
            assert form_errors(response) == {"__all__": [WRONG_LOGIN]}

        response = sign_in(client, "member@example.com", TEST_PASSWORD)

        assert response.status_code == 200
        assert form_errors(response) == {"__all__": [NETWORK_LIMITED]}
        assert signed_in_user_id(client) is None
        # Another address is not affected, nor is the account itself locked.
        other = Client(REMOTE_ADDR="10.9.8.7")
        assert sign_in(other, "member@example.com", TEST_PASSWORD).status_code == 302


@pytest.mark.django_db(transaction=True)  # the threads read the account from the database
def test_a_burst_of_wrong_passwords_cannot_slip_past_the_lock(user):
    """Each attempt is counted as it arrives, before its slow password hash: 20 at once get
    the limit's worth of "wrong password" answers, the others are refused as locked."""
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection
    from django.test import Client

    def attempt(_):
        try:
            response = Client(REMOTE_ADDR="203.0.113.9").post(
                "/accounts/login/", {"username": user.email, "password": "wrong-password"}
            )
            return response.content.decode()
        finally:
            connection.close()

    with ThreadPoolExecutor(10) as pool:
        pages = list(pool.map(attempt, range(20)))
    assert sum(WRONG_LOGIN in page for page in pages) == 3
    assert sum(ACCOUNT_LOCKED in page for page in pages) == 17
