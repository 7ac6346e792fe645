"""The OpenID provider's HTTP routes (`Sandbox(auth="oidc")`), and `/_sandbox/tokens` to mint any token.

OAuth endpoints answer in OAuth's shape (`{error, error_description}`, RFC 6749), the rest in
CAMARA's. Clients authenticate with HTTP Basic or with `client_id`/`client_secret` in the form.
"""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import parse_qsl, unquote

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from ..models import Device
from .oidc import CIBA_GRANT, SCOPES, OAuthClient, OAuthError
from .refusals import EngineError

if TYPE_CHECKING:
    from .oidc import Provider
    from .server import Sandbox

__all__ = ["ConsentFault", "MintRequest", "oidc_router"]


class MintRequest(BaseModel):
    """A token made to order (sandbox only, for teaching and tests)."""

    client: str | None = None
    """Its client id (a new client's when absent)."""
    scopes: list[str] | None = None
    """Its scopes (every QoD scope when absent; [] for none)."""
    device: Device | None = None
    """A three-legged token for this device."""
    expires_in: float | None = None
    """Sandbox seconds from now (negative: already expired)."""


class ConsentFault(BaseModel):
    """What the next CIBA token polls meet."""

    kind: Literal["pending", "deny"] = "pending"
    """pending: authorization_pending (the client polls again); deny: access_denied."""
    count: int = Field(default=1, ge=1)
    """How many polls."""


def oidc_router(sandbox: Sandbox) -> tuple[APIRouter, APIRouter]:
    """Discovery, JWKS, the token endpoint, CIBA's backchannel authentication (public: they check the client's
    credentials themselves); and the controls under `/_sandbox` (token minting, consent faults), the owner's."""
    router, controls = APIRouter(), APIRouter()
    provider = sandbox.provider
    assert provider is not None
    _provider_routes(router, sandbox, provider)
    _control_routes(controls, provider)
    return router, controls


def _provider_routes(router: APIRouter, sandbox: Sandbox, provider: Provider) -> None:
    """The provider's public endpoints: discovery, its keys, the token endpoint, CIBA's backchannel authentication."""

    @router.get("/.well-known/openid-configuration", summary="OpenID provider metadata")
    async def discovery(request: Request) -> JSONResponse:
        return JSONResponse(_metadata(str(request.base_url).rstrip("/")))

    @router.get("/oauth2/jwks", summary="The keys tokens are signed with")
    async def jwks() -> JSONResponse:
        return JSONResponse(provider.jwks())

    @router.post("/oauth2/token", summary="Tokens: client credentials, or CIBA's grant")
    async def token(request: Request) -> JSONResponse:
        async def grant(form: dict[str, str], client: OAuthClient) -> dict[str, Any]:
            kind = form.get("grant_type")
            if kind == "client_credentials":
                return provider.client_credentials(client, form.get("scope"))
            if kind == CIBA_GRANT:
                return provider.ciba_token(client, form.get("auth_req_id"))
            raise OAuthError("unsupported_grant_type", f"grant_type {kind!r} is not supported here.")

        return await _oauth(request, sandbox, grant)

    @router.post("/bc-authorize", summary="CIBA: authenticate a device's user (consent is automatic here)")
    async def bc_authorize(request: Request) -> JSONResponse:
        async def start(form: dict[str, str], client: OAuthClient) -> dict[str, Any]:
            return provider.bc_authorize(client, form.get("login_hint"), form.get("scope"))

        return await _oauth(request, sandbox, start)


def _metadata(root: str) -> dict[str, Any]:
    """The provider's metadata (OpenID Connect Discovery), its endpoints under `root`."""
    return {
        "issuer": root,
        "token_endpoint": f"{root}/oauth2/token",
        "jwks_uri": f"{root}/oauth2/jwks",
        "backchannel_authentication_endpoint": f"{root}/bc-authorize",
        "backchannel_token_delivery_modes_supported": ["poll"],
        "grant_types_supported": ["client_credentials", CIBA_GRANT],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "scopes_supported": ["openid", *SCOPES.values()],
        "id_token_signing_alg_values_supported": ["RS256"],
    }


def _control_routes(controls: APIRouter, provider: Provider) -> None:
    """The provider's controls, the owner's: consent faults and tokens minted to order."""

    @controls.post(
        "/_sandbox/faults/consent",
        status_code=204,
        summary="CIBA: the next token polls meet a user who waits or refuses",
    )
    async def consent(body: ConsentFault) -> Response:
        try:
            provider.hold_consent(body.kind, body.count)
        except ValueError as exc:
            raise EngineError(400, "INVALID_ARGUMENT", str(exc)) from None
        return Response(status_code=204)

    @controls.post("/_sandbox/tokens", summary="Mint a token to order (expired, without scopes, for a device)")
    async def mint(body: MintRequest) -> JSONResponse:
        client = body.client or provider.register().client_id
        scopes = list(SCOPES.values()) if body.scopes is None else body.scopes
        device = body.device.identifiers()[0] if body.device is not None else None
        token = provider.mint(client, scopes, device, body.expires_in)
        return JSONResponse({"access_token": token, "token_type": "Bearer", "client_id": client})


async def _oauth(request: Request, sandbox: Sandbox, action: Any) -> JSONResponse:
    """Read the form, authenticate the client, run `action(form, client)`; OAuth's error shape."""
    assert sandbox.provider is not None
    form = dict(parse_qsl((await request.body()).decode(errors="replace")))
    try:
        client_id, secret = _credentials(request, form)
        client = sandbox.provider.authenticate(client_id, secret)
        answer = await action(form, client)
    except OAuthError as exc:
        headers = {"WWW-Authenticate": "Basic"} if exc.status == 401 else None
        return JSONResponse({"error": exc.error, "error_description": exc.description}, exc.status, headers=headers)
    except EngineError as exc:
        return JSONResponse({"error": "invalid_request", "error_description": exc.message}, 400)
    return JSONResponse(answer, headers={"Cache-Control": "no-store"})


def _credentials(request: Request, form: dict[str, str]) -> tuple[str, str]:
    auth = request.headers.get("authorization", "")
    if auth[:6].lower() == "basic ":
        try:
            user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise OAuthError("invalid_client", "Malformed Basic credentials.", 401) from None
        return unquote(user), unquote(password)
    if "client_id" in form and "client_secret" in form:
        return form["client_id"], form["client_secret"]
    msg = "Client authentication is required (Basic, or client_id and client_secret)."
    raise OAuthError("invalid_client", msg, 401)
