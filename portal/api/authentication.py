"""Personal API tokens: ``Authorization: Bearer sbay_…`` (``Token sbay_…`` also accepted)."""

from __future__ import annotations

from rest_framework import authentication, exceptions

from portal.services import authenticate_token


class ApiTokenAuthentication(authentication.BaseAuthentication):
    keywords = ("bearer", "token")

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1").split()
        if not header or header[0].lower() not in self.keywords:
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Malformed Authorization header: use 'Bearer <token>'.")
        token = authenticate_token(header[1])
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid API token.")
        if token.revoked_at is not None:
            raise exceptions.AuthenticationFailed(f"This API token was revoked on {token.revoked_at:%Y-%m-%d}.")
        if not token.is_active:
            raise exceptions.AuthenticationFailed(f"This API token expired on {token.expires_at:%Y-%m-%d}.")
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("This user account is disabled.")
        return token.user, token

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="api"'
