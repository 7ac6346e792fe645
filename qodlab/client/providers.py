"""Real providers: presets for documented operators, and the release a QoD endpoint speaks.

A preset is thin: a base URL, an auth flow and a release, each taken from the provider's
public documentation (cited beside it). Nothing here is sent anywhere until a client is used.
The releases are the rows of `qodlab.apis.RELEASES` the client speaks (`1.1.0`, `1.2.0-rc.3`,
`0.10`); `release(name)` finds one by any of its spellings. `Generation` and `generation()` are
the deprecated old names of `Release` and `release()`.

A server that stands in for a provider (the sandbox) is `ProvidesClient`: its `client_settings()`
hands a client what it needs (`ClientSettings`), so the client never names the server's class.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from .. import apis
from ..apis import Release
from ..errors import InvalidRequest
from .keywords import deprecated

if TYPE_CHECKING:
    import httpx

__all__ = [
    "ClientSettings",
    "NAC_API_HOST",
    "NAC_GATEWAY",
    "NAC_PROFILES",
    "PRESETS",
    "Preset",
    "ProvidesClient",
    "Release",
    "release",
]

# Network as Code: requests go to the RapidAPI gateway's host, while `X-RapidAPI-Host` names the
# API's host on RapidAPI. network-as-code 8.0.0 (`network_as_code/api/client.py`,
# `environment_base_url` and `environment_hostname`) sends exactly these two; 10.0.0's docs pass
# `rapidapi_host="network-as-code.nokia.rapidapi.com"`.
NAC_GATEWAY = "network-as-code.p-eu.rapidapi.com"
NAC_API_HOST = "network-as-code.nokia.rapidapi.com"
# Network as Code has no QoS Profiles API: its SDKs take the profile as a free string. The names it
# documents (https://networkascode.nokia.io/docs/quality-on-demand/qod-sessions): its own
# up/downlink labels, and "QoD Sessions also support the CAMARA QoS profile labels".
NAC_PROFILES = (
    "QOS_E",
    "QOS_S",
    "QOS_M",
    "QOS_L",
    *(f"DOWNLINK_{down}_UPLINK_{up}" for down in "SML" for up in "SML"),
)


@dataclass(frozen=True)
class ClientSettings:
    """What a server hands a client to talk to it: where, with which credential, trusting which CA, on which clock."""

    base_url: str
    token: str | None = None  # a bearer API key
    auth: httpx.Auth | None = None  # an auth flow that gets its own access tokens (an OpenID server's)
    cafile: str | None = None  # the private CA its https certificate comes from
    now: Callable[[], datetime] | None = None  # the server's clock, where it is not this machine's

    def client_args(self) -> dict[str, Any]:
        """The client's constructor arguments these settings give (`auth` only where there is a flow)."""
        args: dict[str, Any] = {"base_url": self.base_url, "token": self.token, "cafile": self.cafile}
        return args if self.auth is None else {**args, "auth": self.auth}


class ProvidesClient(Protocol):
    """A server a client can be made for (`QodClient.for_sandbox`): the sandbox, or anything alike."""

    def client_settings(self) -> ClientSettings:
        """What a client needs to talk to it."""
        ...


def release(name: str | Release) -> Release:
    """The release the client speaks named `name` ("1.1.0", "0.10", or a spelling such as "v1", "v0.10").

    Raises InvalidRequest (a ValueError) naming `release=` when the client speaks none of that name.
    """
    try:
        return apis.release(name)
    except ValueError as exc:
        raise InvalidRequest(str(exc), "release") from None


def generation(name: str | Release) -> Release:
    """Deprecated: `release(name)`."""
    deprecated("qodlab.client.providers.generation()", "release()")
    return release(name)


def __getattr__(name: str) -> Any:
    """`Generation`, the deprecated old name of `Release`."""
    if name == "Generation":
        deprecated("qodlab.client.providers.Generation", "Release")
        return Release
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)


@dataclass(frozen=True)
class Preset:
    """A documented provider: its base URL, its auth flow, its release, and what it needs from you."""

    name: str
    title: str
    base_url: str
    release: str
    auth: str  # "rapidapi-key", "client-credentials" or "ciba"
    needs: tuple[str, ...]
    source: str
    token_url: str | None = None
    backchannel_url: str | None = None
    defaults: dict[str, Any] = field(default_factory=dict)
    profiles: tuple[str, ...] | None = None  # a documented catalogue, where the provider has no profiles API
    qod_path: str | None = None  # where the provider serves QoD, when not at its release's path

    @property
    def api(self) -> str:
        """Deprecated: `release`."""
        deprecated("Preset.api", "release")
        return self.release


PRESETS: dict[str, Preset] = {
    preset.name: preset
    for preset in (
        Preset(
            name="network-as-code",
            title="Nokia Network as Code",
            base_url=f"https://{NAC_GATEWAY}",
            release="1.1.0",
            auth="rapidapi-key",
            needs=("key",),
            source="network-as-code 8.0.0 network_as_code/api/client.py; https://networkascode.nokia.io/docs",
            profiles=NAC_PROFILES,
        ),
        # https://developers.opengateway.telefonica.com/docs/backend (CIBA: POST /bc-authorize with
        # login_hint and "dpv:<purpose>#<scope>", Basic client authentication, then POST /token),
        # https://developers.opengateway.telefonica.com/docs/usethesandbox; QoD at /qod/v0 (0.10)
        Preset(
            name="telefonica-sandbox",
            title="Telefonica Open Gateway sandbox",
            base_url="https://sandbox.opengateway.telefonica.com/apigateway",
            release="0.10",
            auth="ciba",
            needs=("client_id", "client_secret", "login_hint", "purpose"),
            source="https://developers.opengateway.telefonica.com/docs/backend",
            token_url="https://sandbox.opengateway.telefonica.com/apigateway/token",
            backchannel_url="https://sandbox.opengateway.telefonica.com/apigateway/bc-authorize",
        ),
        # https://developer.orange.com/apis/camara-quality-on-demand/getting-started ("Quality on
        # Demand - CAMARA 0.10 Beta": 2-legged OAuth, POST https://api.orange.com/oauth/v3/token
        # with the console's Basic authorization header; resources under
        # https://api.orange.com/camara/quality-on-demand/orange-lab/v0)
        Preset(
            name="orange",
            title="Orange Quality on Demand (CAMARA 0.10 beta)",
            base_url="https://api.orange.com/camara/quality-on-demand/orange-lab",
            release="0.10",
            qod_path="/v0",
            auth="client-credentials",
            needs=("client_id", "client_secret"),
            source="https://developer.orange.com/apis/camara-quality-on-demand/getting-started",
            token_url="https://api.orange.com/oauth/v3/token",
        ),
    )
}
