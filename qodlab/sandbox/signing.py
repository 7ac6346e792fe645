"""The sandbox's PRIVATE_KEY_JWT side (Commonalities r4.3): a key pair, its JWK set, and client assertions.

Before notifying a session whose sink credential is PRIVATE_KEY_JWT, the provider asks the
consumer's token endpoint for an access token, authenticating with a JWT it signs (RFC 7523's
client assertion, OpenID's `private_key_jwt`): `iss` = `sub` = the client id, `aud` = the token
endpoint, a short `exp`, a unique `jti`, the key named by `kid` in the published JWK set. The
consumer checks it against that set. joserfc signs; the key is made when first needed (~0.1 s).
"""

from __future__ import annotations

import secrets
import threading
import time
from typing import Any

from joserfc import jwt
from joserfc.jwk import RSAKey

__all__ = ["ASSERTION_TYPE", "ASSERTION_TTL", "Signer"]

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_TTL = 120  # seconds (wall clock) a client assertion is valid: within the 5 minutes asked for


class Signer:
    """The sandbox's notification-signing key: `jwks()` publishes it, `assertion()` uses it."""

    def __init__(self, kid: str = "qodlab-notifications-1") -> None:
        self.kid = kid
        self._key: RSAKey | None = None
        self._lock = threading.Lock()

    @property
    def key(self) -> RSAKey:
        """The private key (made on first use)."""
        with self._lock:
            if self._key is None:
                self._key = RSAKey.generate_key(2048, parameters={"kid": self.kid, "use": "sig", "alg": "RS256"})
            return self._key

    def jwks(self) -> dict[str, Any]:
        """The public JWK set, as served at the sandbox's `jwksUri`."""
        return {"keys": [self.key.as_dict(private=False)]}

    def assertion(self, client_id: str, audience: str) -> str:
        """A signed client assertion for the token endpoint `audience` (times on the wall clock)."""
        now = int(time.time())
        claims = {
            "iss": client_id,
            "sub": client_id,
            "aud": audience,
            "iat": now,
            "exp": now + ASSERTION_TTL,
            "jti": secrets.token_urlsafe(16),
        }
        return jwt.encode({"alg": "RS256", "kid": self.kid, "typ": "JWT"}, claims, self.key)
