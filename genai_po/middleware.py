"""Request id for the audit trail and logs; the absolute session lifetime."""

import re
import time
import uuid

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.shortcuts import redirect

from genai_po import inputs

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
SIGNED_IN_AT = "signed_in_at"


class RequestIdMiddleware:
    """Takes a well-formed X-Request-ID from the proxy or makes one; echoes it back."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request.request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        response = self.get_response(request)
        response["X-Request-ID"] = request.request_id
        return response


class SessionLifetimeMiddleware:
    """Ends a browser session SESSION_ABSOLUTE_LIFETIME seconds after sign-in, active or not.

    The idle timeout is Django's own: SESSION_COOKIE_AGE renewed on every request.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and hasattr(request, "session"):
            now = int(time.time())
            signed_in_at = request.session.get(SIGNED_IN_AT)
            if signed_in_at is None:
                request.session[SIGNED_IN_AT] = now
            elif now - int(signed_in_at) > settings.SESSION_ABSOLUTE_LIFETIME:
                logout(request)
                messages.info(request, "Your session has ended. Please sign in again.")
                return redirect(settings.LOGIN_URL)
        return self.get_response(request)


class RefuseNulMiddleware:
    """A NUL character in the path, the query string or a browser form is refused with a
    400 before any view runs: no text column (nor jsonb) of PostgreSQL can store it, and no
    page or API means it. API bodies are checked by their parser (genai_po.api.parsers)."""

    FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if self._holds_nul(request):
            return _refused(request, inputs.NUL_MESSAGE)
        return self.get_response(request)

    def _holds_nul(self, request) -> bool:
        if inputs.NUL in request.path or "%00" in request.META.get("QUERY_STRING", ""):
            return True
        if any(inputs.NUL in v for values in request.GET.lists() for v in values[1]):
            return True
        if (
            request.method == "POST"
            and not request.path.startswith("/api/")
            and request.content_type in self.FORM_TYPES
        ):
            return any(
                inputs.NUL in key or any(inputs.NUL in v for v in values)
                for key, values in request.POST.lists()
            )
        return False


def _refused(request, message: str):
    from django.http import HttpResponse, JsonResponse
    from django.utils.html import escape

    if request.path.startswith("/api/"):
        return JsonResponse({"message": message, "code": "invalid"}, status=400)
    if request.headers.get("HX-Request"):
        return HttpResponse(
            f'<p role="alert" class="flash-error">{escape(message)}</p>', status=400
        )
    from django.shortcuts import render

    return render(request, "400.html", {"message": message}, status=400)
