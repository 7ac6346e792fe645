"""The sandbox as an OpenID provider: clients, signed access tokens, and what each token may do.

Pure state and rules, like the engine (the routes are in `api`): OAuth clients with secrets,
two-legged tokens (client credentials) and three-legged ones (CIBA, the device named by the
`login_hint`), RS256 JWTs signed by a key made at start (`jwks()` publishes it), with `exp`,
`scope`, `client_id` and, for three-legged tokens, `sub` naming the device. Times are on the
sandbox clock, so a token's life runs at the sandbox's speed; `expires_in` is said in real seconds,
so a client refreshes it in time. Secrets never reach a repr or an error message.
"""

from __future__ import annotations

import functools
import hmac
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import RSAKey

from .clock import Clock
from .refusals import EngineError

__all__ = ["CIBA_GRANT", "SCOPES", "Caller", "OAuthClient", "OAuthError", "Provider", "device_from_hint"]

SCOPES = {
    "create": "quality-on-demand:sessions:create",
    "read": "quality-on-demand:sessions:read",
    "delete": "quality-on-demand:sessions:delete",
    "update": "quality-on-demand:sessions:update",
    "retrieve": "quality-on-demand:sessions:retrieve-by-device",
    "profiles": "qos-profiles:read",
    "assign": "qos-provisioning:qos-assignments:create",
    "assignment": "qos-provisioning:qos-assignments:read",
    "revoke": "qos-provisioning:qos-assignments:delete",
    "assignment-by-device": "qos-provisioning:qos-assignments:read-by-device",
}
CIBA_GRANT = "urn:openid:params:grant-type:ciba"
_KID = "qodlab-sandbox-1"


class OAuthError(Exception):
    """An OAuth error answer: `error` is the RFC 6749 code, `status` the HTTP status."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error, self.description, self.status = error, description, status


@dataclass(frozen=True)
class OAuthClient:
    """An API client the provider knows: its id and (never shown) secret."""

    client_id: str
    secret: str = field(repr=False)


@dataclass(frozen=True)
class Caller:
    """Who a verified token speaks for: a client, its scopes, and (three-legged) the device."""

    client_id: str
    scopes: frozenset[str]
    device: tuple[str, str] | None = None  # a device key, as the engine's

    @property
    def three_legged(self) -> bool:
        return self.device is not None


def device_from_hint(hint: str) -> tuple[str, str]:
    """CIBA's `login_hint` as a device key: `tel:+36...`, or `ipport:203.0.113.1:5000`."""
    kind, _, value = hint.partition(":")
    if kind == "tel" and value.startswith("+") and value[1:].isdigit():
        return ("phoneNumber", value)
    if kind == "ipport" and value.count(":") == 1:
        address, port = value.split(":")
        return ("ipv4Address", f"{address}|None|{port}")
    msg = f"login_hint must be tel:+<digits> or ipport:<IPv4>:<port>, got {hint[:40]!r}"
    raise OAuthError("invalid_request", msg)


class Provider:
    """Clients, CIBA requests and tokens; thread-safe."""

    def __init__(self, clock: Clock, ttl: float = 3600.0) -> None:
        self.clock = clock
        self.ttl = ttl
        self.key = RSAKey.generate_key(2048, parameters={"kid": _KID})
        self._public = RSAKey.import_key(self.key.as_dict(private=False))
        self._clients: dict[str, OAuthClient] = {}
        # auth_req_id -> client id, device, scopes, when it expires (monotonic)
        self._pending: dict[str, tuple[str, tuple[str, str], str, float]] = {}
        self._consent: list[str] = []  # what the next CIBA token polls meet: "pending" or "deny"
        # A client sends the same token with every request, and a classroom's gate and the API both
        # ask who it is: check each signature once (~45 µs of RS256), the expiry every time.
        self._signed = functools.lru_cache(maxsize=4096)(self._check_signature)
        self._lock = threading.Lock()

    # -- clients -----------------------------------------------------------------------------

    def register(self, client_id: str | None = None, secret: str | None = None) -> OAuthClient:
        """A new client with a fresh secret (or `secret`: a classroom's roster made it)."""
        client = OAuthClient(client_id or f"client-{secrets.token_hex(4)}", secret or secrets.token_urlsafe(24))
        with self._lock:
            self._clients[client.client_id] = client
        return client

    def authenticate(self, client_id: str, secret: str) -> OAuthClient:
        """The client, if the secret is right (compared in constant time)."""
        with self._lock:
            client = self._clients.get(client_id)
        if client is None or not hmac.compare_digest(client.secret.encode(), secret.encode()):
            raise OAuthError("invalid_client", "Unknown client or wrong secret.", 401)
        return client

    # -- grants ------------------------------------------------------------------------------

    def client_credentials(self, client: OAuthClient, scope: str | None) -> dict[str, Any]:
        """A two-legged token for `scope` (every QoD scope by default)."""
        return self._answer(self.mint(client.client_id, _scopes(scope)))

    def bc_authorize(self, client: OAuthClient, login_hint: str | None, scope: str | None) -> dict[str, Any]:
        """Start CIBA for the device of `login_hint`; its consent is given at once (a sandbox)."""
        if not login_hint:
            raise OAuthError("invalid_request", "login_hint is required, e.g. tel:+36721601234567.")
        device = device_from_hint(login_hint)
        request_id = secrets.token_urlsafe(16)
        with self._lock:
            self._pending[request_id] = (client.client_id, device, " ".join(_scopes(scope)), time.monotonic() + 120)
        return {"auth_req_id": request_id, "expires_in": 120, "interval": 1}

    def hold_consent(self, kind: str = "pending", count: int = 1) -> None:
        """The next `count` CIBA token polls meet a user who has not answered yet, or who refuses."""
        if kind not in ("pending", "deny") or count < 1:
            msg = f"consent faults are 'pending' or 'deny', count >= 1; got {kind!r}, {count!r}"
            raise ValueError(msg)
        with self._lock:
            self._consent.extend([kind] * count)

    def ciba_token(self, client: OAuthClient, auth_req_id: str | None) -> dict[str, Any]:
        """The three-legged token for a CIBA request (once the user has consented)."""
        with self._lock:
            held = self._consent.pop(0) if self._consent and (auth_req_id or "") in self._pending else None
            if held == "pending":
                raise OAuthError("authorization_pending", "The user has not answered yet.")
            pending = self._pending.pop(auth_req_id or "", None)
        if held == "deny":
            raise OAuthError("access_denied", "The user refused.", 400)
        if pending is None or pending[0] != client.client_id:
            raise OAuthError("invalid_grant", "Unknown auth_req_id, or not this client's.")
        if pending[3] < time.monotonic():
            raise OAuthError("expired_token", "The authentication request expired.")
        return self._answer(self.mint(client.client_id, pending[2].split(), pending[1]))

    def mint(
        self,
        client_id: str,
        scopes: list[str] | tuple[str, ...],
        device: tuple[str, str] | None = None,
        expires_in: float | None = None,
    ) -> str:
        """A signed access token (sandbox-only `/_sandbox/tokens` makes any, expired ones included)."""
        now = self.clock.now()
        claims: dict[str, Any] = {
            "iss": "qodlab-sandbox",
            "client_id": client_id,
            "scope": " ".join(scopes),
            "iat": int(now),
            "exp": int(now + (self.ttl if expires_in is None else expires_in)),
            "jti": secrets.token_hex(8),
            "sub": f"{device[0]}:{device[1]}" if device else client_id,
        }
        if device is not None:
            claims["device"] = list(device)
        return jwt.encode({"alg": "RS256", "kid": _KID}, claims, self.key)

    def _answer(self, token: str) -> dict[str, Any]:
        return {"access_token": token, "token_type": "Bearer", "expires_in": int(self.ttl / self.clock.speed)}

    # -- resource server ---------------------------------------------------------------------

    def jwks(self) -> dict[str, Any]:
        """The public key set."""
        return {"keys": [self._public.as_dict(private=False)]}

    def verify(self, token: str) -> Caller:
        """Who a bearer token speaks for, or EngineError 401 (malformed, badly signed, expired)."""
        caller, expires = self._signed(token)
        if expires is None or expires <= self.clock.now():
            raise EngineError(401, "UNAUTHENTICATED", "The access token has expired.")
        return caller

    def _check_signature(self, token: str) -> tuple[Caller, int | None]:
        """What a well-signed token says, and when it expires (`_signed` remembers the answer)."""
        try:
            decoded = jwt.decode(token, self._public, algorithms=["RS256"])
        except (JoseError, ValueError):
            msg = "The access token is malformed or not signed by this issuer."
            raise EngineError(401, "UNAUTHENTICATED", msg) from None
        claims = decoded.claims
        device = claims.get("device")
        key = (str(device[0]), str(device[1])) if isinstance(device, list) and len(device) == 2 else None
        caller = Caller(str(claims.get("client_id", "")), frozenset(str(claims.get("scope", "")).split()), key)
        return caller, claims["exp"] if isinstance(claims.get("exp"), int) else None


def _scopes(scope: str | None) -> list[str]:
    asked = scope.split() if scope else list(SCOPES.values())
    unknown = [s for s in asked if s not in SCOPES.values() and s != "openid"]
    if unknown:
        raise OAuthError("invalid_scope", f"Unknown scope: {' '.join(unknown)}.")
    return asked
