"""CAMARA authentication for the clients: OpenID Connect access tokens, as httpx auth flows.

    auth = ClientCredentials(issuer="https://auth.operator.example", client_id=..., client_secret=...)
    auth = Ciba(issuer=..., client_id=..., client_secret=..., login_hint="tel:+36721601234567")
    client = QodClient("https://api.operator.example", auth=auth)

Two-legged (client credentials) and three-legged (CIBA: backchannel authentication of the
device's user, then polling the token endpoint as the spec says) tokens are fetched with
authlib's httpx clients, before the first call and again before they expire (or once more after a
401), one shared token per flow, thread-safe. `issuer=` reads the endpoints from
`{issuer}/.well-known/openid-configuration`. A three-legged token names the device: a client using
one leaves `device` out of its requests. The client secret never reaches a repr, a log or an error.
"""

from __future__ import annotations

import asyncio
import threading
import time
import warnings
from collections.abc import AsyncGenerator, Generator, Sequence
from typing import Any

import httpx
from authlib.deprecate import AuthlibDeprecationWarning
from pydantic import SecretStr

from ..errors import AuthError
from ..notebook.kernel import pause

with warnings.catch_warnings():  # authlib 1.9 names httpx's successor; its httpx clients work as they are
    warnings.filterwarnings("ignore", category=AuthlibDeprecationWarning)
    from authlib.integrations.httpx_client import AsyncOAuth2Client, OAuth2Client, OAuthError

__all__ = ["CIBA_GRANT", "PROVISIONING_SCOPES", "QOD_SCOPES", "Ciba", "ClientCredentials", "TokenFlow"]

CIBA_GRANT = "urn:openid:params:grant-type:ciba"
QOD_SCOPES = (
    "quality-on-demand:sessions:create",
    "quality-on-demand:sessions:read",
    "quality-on-demand:sessions:update",
    "quality-on-demand:sessions:delete",
    "quality-on-demand:sessions:retrieve-by-device",
    "qos-profiles:read",
)
PROVISIONING_SCOPES = (
    "qos-provisioning:qos-assignments:create",
    "qos-provisioning:qos-assignments:read",
    "qos-provisioning:qos-assignments:delete",
    "qos-provisioning:qos-assignments:read-by-device",
)
_LEEWAY = 30.0  # seconds before expiry that a token is renewed


class TokenFlow(httpx.Auth):
    """An access token fetched when needed and put in each request's Authorization header."""

    three_legged = False
    """Whether its tokens name the device (then requests leave `device` out)."""
    kind = "OAuth"

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str | SecretStr,
        issuer: str | None = None,
        token_url: str | None = None,
        backchannel_url: str | None = None,
        scopes: Sequence[str] = QOD_SCOPES,
        cafile: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        if issuer is None and token_url is None:
            msg = "give issuer= (for discovery) or token_url="
            raise ValueError(msg)
        self.client_id = client_id
        self._secret = client_secret if isinstance(client_secret, SecretStr) else SecretStr(client_secret)
        self.issuer = issuer.rstrip("/") if issuer else None
        self.scopes = tuple(scopes)
        self.cafile = cafile
        self.timeout = timeout
        self._endpoints: dict[str, str] = {"token_endpoint": token_url} if token_url else {}
        if backchannel_url:  # a provider documented without discovery (Telefonica's sandbox)
            self._endpoints["backchannel_authentication_endpoint"] = backchannel_url
        self._token: dict[str, Any] | None = None
        self._lock = threading.Lock()
        self._async_lock: asyncio.Lock | None = None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} client_id={self.client_id!r} secret=*** {self.describe()}>"

    def describe(self) -> str:
        """How it authenticates, in words (a dashboard's header): never the secret."""
        token = self._token
        if token is None:
            return f"{self.kind}, no token yet"
        left = max(0.0, float(token.get("expires_at", 0)) - time.time())
        return f"{self.kind}, token valid for " + (f"{left / 60:.0f} min" if left >= 120 else f"{left:.0f} s")

    @property
    def expires_at(self) -> float | None:
        """When the current token expires (epoch seconds), if there is one."""
        return float(self._token["expires_at"]) if self._token and "expires_at" in self._token else None

    # -- httpx ---------------------------------------------------------------------------------

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        with self._lock:
            token = self._current() or self._store(self._fetch())
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == 401:  # revoked, or expired early: one new token, one more try
            with self._lock:
                token = self._store(self._fetch())
            request.headers["Authorization"] = f"Bearer {token}"
            yield request

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        self._async_lock = self._async_lock or asyncio.Lock()
        async with self._async_lock:
            token = self._current() or self._store(await self._afetch())
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == 401:
            async with self._async_lock:
                token = self._store(await self._afetch())
            request.headers["Authorization"] = f"Bearer {token}"
            yield request

    # -- tokens --------------------------------------------------------------------------------

    def _current(self) -> str | None:
        token = self._token
        if token is None or float(token.get("expires_at", 0)) - _LEEWAY <= time.time():
            return None
        return str(token["access_token"])

    def _store(self, token: dict[str, Any]) -> str:
        self._token = dict(token)
        return str(token["access_token"])

    def _oauth(self) -> dict[str, Any]:
        return {
            "client_id": self.client_id,
            "client_secret": self._secret.get_secret_value(),
            "scope": " ".join(self.scopes) or None,  # a provider that knows no scopes gets none
            "verify": httpx.create_ssl_context(verify=self.cafile) if self.cafile else True,
            "timeout": self.timeout,
            "trust_env": False,
        }

    def endpoint(self, name: str) -> str:
        """An endpoint of the issuer (`token_endpoint`, `backchannel_authentication_endpoint`)."""
        if name not in self._endpoints:
            if self.issuer is None:
                msg = f"no {name}: give issuer= so it can be discovered"
                raise AuthError(msg)
            url = f"{self.issuer}/.well-known/openid-configuration"
            with httpx.Client(verify=self._oauth()["verify"], timeout=self.timeout, trust_env=False) as http:
                response = http.get(url)
            if response.status_code != 200:
                msg = f"OpenID discovery at {url} answered HTTP {response.status_code}"
                raise AuthError(msg)
            self._endpoints.update({k: v for k, v in response.json().items() if k.endswith("endpoint")})
            if name not in self._endpoints:
                msg = f"the issuer {self.issuer} has no {name}"
                raise AuthError(msg)
        return self._endpoints[name]

    def _basic(self) -> httpx.BasicAuth:
        """Client authentication at endpoints authlib does not know (CIBA's): client_secret_basic."""
        return httpx.BasicAuth(self.client_id, self._secret.get_secret_value())

    def _fetch(self) -> dict[str, Any]:
        raise NotImplementedError

    async def _afetch(self) -> dict[str, Any]:
        raise NotImplementedError


class ClientCredentials(TokenFlow):
    """Two-legged tokens: the client's own credentials (OAuth's client credentials grant)."""

    kind = "client credentials"

    def _fetch(self) -> dict[str, Any]:
        url = self.endpoint("token_endpoint")
        with OAuth2Client(**self._oauth()) as oauth:
            return _granted(lambda: oauth.fetch_token(url, grant_type="client_credentials"))

    async def _afetch(self) -> dict[str, Any]:
        url = self.endpoint("token_endpoint")
        async with AsyncOAuth2Client(**self._oauth()) as oauth:
            try:
                return dict(await oauth.fetch_token(url, grant_type="client_credentials"))
            except OAuthError as exc:
                raise _refused(exc) from None


class Ciba(TokenFlow):
    """Three-legged tokens for the device of `login_hint` (`tel:+36...`): CIBA, in poll mode.

    It asks the backchannel authentication endpoint to authenticate the device's user, then polls
    the token endpoint every `interval` seconds (slower when told `slow_down`) until the user has
    consented, refused, or the request expired.
    """

    three_legged = True

    def __init__(self, *, login_hint: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.login_hint = login_hint

    @property
    def kind(self) -> str:  # type: ignore[override]
        kind, _, value = self.login_hint.partition(":")
        shown = f"{value[:5]}…{value[-3:]}" if kind == "tel" and len(value) > 9 else value
        return f"CIBA for {shown}"

    def _fetch(self) -> dict[str, Any]:
        with OAuth2Client(**self._oauth()) as oauth:
            started = self._started(
                oauth.post(
                    self.endpoint("backchannel_authentication_endpoint"),
                    data={"login_hint": self.login_hint, "scope": " ".join(self.scopes)},
                    auth=self._basic(),
                )
            )
            interval, deadline = float(started.get("interval", 5)), time.monotonic() + float(started["expires_in"])
            url = self.endpoint("token_endpoint")
            while True:
                try:
                    return dict(oauth.fetch_token(url, grant_type=CIBA_GRANT, auth_req_id=started["auth_req_id"]))
                except OAuthError as exc:
                    interval = _wait_more(exc, interval, deadline)
                pause(interval)  # the user consents on the device meanwhile; a dashboard keeps redrawing

    async def _afetch(self) -> dict[str, Any]:
        async with AsyncOAuth2Client(**self._oauth()) as oauth:
            response = await oauth.post(
                self.endpoint("backchannel_authentication_endpoint"),
                data={"login_hint": self.login_hint, "scope": " ".join(self.scopes)},
                auth=self._basic(),
            )
            started = self._started(response)
            interval, deadline = float(started.get("interval", 5)), time.monotonic() + float(started["expires_in"])
            url = self.endpoint("token_endpoint")
            while True:
                try:
                    return dict(await oauth.fetch_token(url, grant_type=CIBA_GRANT, auth_req_id=started["auth_req_id"]))
                except OAuthError as exc:
                    interval = _wait_more(exc, interval, deadline)
                await asyncio.sleep(interval)

    @staticmethod
    def _started(response: httpx.Response) -> dict[str, Any]:
        body = response.json() if response.headers.get("content-type", "").startswith("application/json") else {}
        if response.status_code != 200 or "auth_req_id" not in body:
            error = body.get("error", f"HTTP {response.status_code}")
            msg = f"backchannel authentication refused: {error}: {body.get('error_description', '')}".rstrip(": ")
            raise AuthError(msg, error=str(error))
        return dict(body)


def _granted(fetch: Any) -> dict[str, Any]:
    try:
        return dict(fetch())
    except OAuthError as exc:
        raise _refused(exc) from None


def _refused(exc: OAuthError) -> AuthError:
    return AuthError(f"the token endpoint refused: {exc.error}: {exc.description or ''}".rstrip(": "), error=exc.error)


def _wait_more(exc: OAuthError, interval: float, deadline: float) -> float:
    """CIBA polling: keep waiting while pending (longer on slow_down); stop on anything else."""
    if exc.error == "slow_down":
        interval += 5
    elif exc.error != "authorization_pending":
        raise _refused(exc) from None
    if time.monotonic() + interval > deadline:
        msg = "the user did not authenticate before the request expired"
        raise AuthError(msg, error="expired_token")
    return interval
