"""Bearer-token authentication for `/api/v1/`: org-scoped tokens stored hashed."""

from django.core.exceptions import PermissionDenied
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed

from genai_po.api import throttling
from genai_po.services import api_token_authenticate


class TokenPrincipal:
    """What `request.user` is for an API call: the token, never a person's session."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    pk = None

    def __init__(self, token):
        self.token = token

    def __str__(self) -> str:
        return f"token {self.token.prefix}"


class BearerTokenAuthentication(BaseAuthentication):
    def authenticate(self, request):
        header = get_authorization_header(request)
        if not header:
            return None
        throttling.refuse_if_failing_too_often(request)
        try:
            return self._authenticate(header)
        except AuthenticationFailed:
            throttling.auth_failed(request)
            raise

    def _authenticate(self, header):
        try:
            scheme, _, value = header.decode("ascii").partition(" ")
        except UnicodeDecodeError as exc:
            raise AuthenticationFailed("The Authorization header is not valid ASCII.") from exc
        value = value.strip()
        if scheme.lower() != "bearer" or not value or " " in value:
            raise AuthenticationFailed("Use the header 'Authorization: Bearer <token>'.")
        try:
            token = api_token_authenticate(value)
        except PermissionDenied as exc:
            raise AuthenticationFailed(str(exc)) from exc
        return TokenPrincipal(token), token

    def authenticate_header(self, request):
        return 'Bearer realm="api"'


class BearerTokenScheme(OpenApiAuthenticationExtension):
    """Describes the bearer token in the OpenAPI schema."""

    target_class = "genai_po.api.authentication.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "An organization's API token"}
