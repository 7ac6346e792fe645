"""The consumer's side of PRIVATE_KEY_JWT: a listener as its own authorization server.

A provider that notifies with PRIVATE_KEY_JWT first asks the consumer's token endpoint for an
access token, authenticating with a JWT it signed (RFC 7523's client assertion). `TokenServer`
is that endpoint: it takes exactly `grant_type=client_credentials` with a
`urn:ietf:params:oauth:client-assertion-type:jwt-bearer` assertion, checks it against the
provider's JWK set (fetched from `jwks_uri`, cached, fetched again for an unknown `kid`), its
`iss` = `sub` = the client id, `aud` = this endpoint, `exp` (at most 5 minutes ahead) and a `jti`
not seen before, and issues short-lived random access tokens. The notification path then takes
only a bearer token it issued that has not expired. Tokens are kept as SHA-256 digests: a lookup
reveals nothing of a token by its timing, and no token is ever stored or shown in the clear.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from .._net.outbound import LISTENER, OutboundPolicy, read_capped, transport

__all__ = ["ASSERTION_TYPE", "GrantRefused", "TokenServer"]

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
MAX_ASSERTION_LIFE = 300  # seconds: an assertion that claims to live longer is refused
LEEWAY = 30  # seconds of clock difference tolerated on `exp`, `iat` and `nbf`


class GrantRefused(Exception):
    """A token request refused: an OAuth error (`error`, `description`) and its HTTP status."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status, self.error, self.description = status, error, description


class TokenServer:
    """Client-assertion grants for one client id; the access tokens it issued."""

    def __init__(
        self,
        client_id: str,
        token_url: str,
        jwks_uri: str | None = None,
        *,
        ttl: float = 300.0,
        cafile: str | None = None,
        clock: Callable[[], float] = time.time,
        policy: OutboundPolicy = LISTENER,
    ) -> None:
        self.client_id = client_id
        self.policy = policy
        """Where the JWK set may be fetched from (`qodlab._net.outbound`): no redirect, no link-local or metadata
        address, at most 64 KiB read."""
        self.token_url = token_url
        self.jwks_uri = jwks_uri
        """The provider's JWK set (onboarding's, or a create response's `sinkCredential.jwksUri`)."""
        self.ttl = ttl
        self.cafile = cafile
        self.clock = clock
        self.issued = 0
        self._keys: Any = None  # the provider's KeySet, as last fetched
        self._tokens: dict[bytes, float] = {}  # SHA-256 of an issued token -> when it expires
        self._jtis: dict[str, float] = {}  # assertion ids seen -> until when they matter
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<TokenServer {self.token_url} client_id={self.client_id!r} {len(self._tokens)} live tokens>"

    async def grant(self, form: Mapping[str, str]) -> dict[str, Any]:
        """The token response for a token request's form, or GrantRefused."""
        if form.get("grant_type") != "client_credentials":
            raise GrantRefused(400, "unsupported_grant_type", "only client_credentials is granted here")
        if form.get("client_assertion_type") != ASSERTION_TYPE or not form.get("client_assertion"):
            raise GrantRefused(401, "invalid_client", f"a client assertion of type {ASSERTION_TYPE} is required")
        claims = await self._verified(form["client_assertion"])
        self._check(claims)
        token = secrets.token_urlsafe(32)
        now = self.clock()
        with self._lock:
            self._tokens = {digest: until for digest, until in self._tokens.items() if until > now}
            self._tokens[_digest(token)] = now + self.ttl
            self.issued += 1
        return {"access_token": token, "token_type": "Bearer", "expires_in": int(self.ttl)}

    def valid(self, token: bytes) -> bool:
        """Whether `token` is one this server issued and it has not expired."""
        with self._lock:
            until = self._tokens.get(_digest(token))
        return until is not None and until > self.clock()

    async def _verified(self, assertion: str) -> dict[str, Any]:
        from joserfc import jws, jwt
        from joserfc.errors import JoseError

        try:
            kid = jws.extract_compact(assertion.encode()).headers().get("kid")
        except (JoseError, ValueError) as exc:
            raise GrantRefused(401, "invalid_client", f"the client assertion is not a JWT ({exc})") from None
        keys = await self._key_set(str(kid) if kid else None)
        try:
            return dict(jwt.decode(assertion, keys, algorithms=["RS256", "ES256", "PS256"]).claims)
        except (JoseError, ValueError) as exc:
            raise GrantRefused(
                401, "invalid_client", f"the client assertion's signature does not verify ({exc})"
            ) from None

    async def _key_set(self, kid: str | None) -> Any:
        """The provider's keys, fetched again when the assertion names a key they do not have."""
        from joserfc.jwk import KeySet

        known = self._keys is not None and (kid is None or any(k.kid == kid for k in self._keys.keys))
        if not known:
            if self.jwks_uri is None:
                raise GrantRefused(401, "invalid_client", "no JWK set to check assertions against (jwks_uri)")
            verify: Any = httpx.create_ssl_context(verify=self.cafile) if self.cafile else True
            carrier = transport(self.policy, verify=verify)
            try:
                async with (
                    httpx.AsyncClient(transport=carrier, timeout=10, trust_env=False) as http,
                    http.stream("GET", self.jwks_uri) as response,
                ):
                    if response.is_redirect:
                        msg = "a redirect, not followed"
                        raise ValueError(msg)
                    body = await read_capped(response)  # a JWK set is a few KiB
                self._keys = KeySet.import_key_set(json.loads(body))
            except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
                raise GrantRefused(
                    401, "invalid_client", f"the JWK set could not be read ({type(exc).__name__})"
                ) from None
        if kid is not None and not any(k.kid == kid for k in self._keys.keys):
            raise GrantRefused(401, "invalid_client", f"the client assertion names a key the JWK set lacks ({kid!r})")
        return self._keys

    def _check(self, claims: Mapping[str, Any]) -> None:
        now = self.clock()
        if claims.get("iss") != self.client_id or claims.get("sub") != self.client_id:
            raise GrantRefused(401, "invalid_client", "the client assertion's iss and sub must be the client id")
        audience = claims.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if self.token_url not in audiences:
            raise GrantRefused(401, "invalid_client", "the client assertion's aud is not this token endpoint")
        expires = claims.get("exp")
        if not isinstance(expires, int | float) or expires + LEEWAY < now:
            raise GrantRefused(401, "invalid_client", "the client assertion has expired (or has no exp)")
        if expires - now > MAX_ASSERTION_LIFE + LEEWAY:
            raise GrantRefused(401, "invalid_client", "the client assertion lives longer than 5 minutes")
        for claim in ("iat", "nbf"):
            value = claims.get(claim)
            if isinstance(value, int | float) and value - LEEWAY > now:
                raise GrantRefused(401, "invalid_client", f"the client assertion's {claim} is in the future")
        jti = claims.get("jti")
        if not isinstance(jti, str) or not jti:
            raise GrantRefused(401, "invalid_client", "the client assertion needs a jti")
        with self._lock:
            self._jtis = {seen: until for seen, until in self._jtis.items() if until > now}
            if jti in self._jtis:
                raise GrantRefused(401, "invalid_client", "the client assertion was used before (a replayed jti)")
            self._jtis[jti] = float(expires) + LEEWAY


def _digest(token: str | bytes) -> bytes:
    return hashlib.sha256(token.encode() if isinstance(token, str) else token).digest()
