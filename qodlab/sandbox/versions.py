"""How the sandbox shows one session through each release it serves, a thin layer over the one engine.

The releases are the rows of `qodlab.apis.RELEASES`. A session created through one release is one
session; read through another, it is shaped for that one, by the row's flags:

- without `address_list` (1.1.0, the Network as Code releases), a session created with an
  `ipAddresses` list reads as its first IPv4 and first IPv6 address;
- without `private_key_jwt`, a session never shows a `sinkCredential`; with it (1.2.0-rc.3), a
  PRIVATE_KEY_JWT session shows `sinkCredential: {credentialType, jwksUri}` (the read-only part,
  never the write-only ones).

`code_for` words an engine error as the release serving the path does (its `codes`).
"""

from __future__ import annotations

import ipaddress
from typing import Any

from .. import apis
from ..apis import Release

__all__ = ["code_for", "shaped"]


def shaped(release: Release, body: dict[str, Any], jwks_uri: str) -> dict[str, Any]:
    """A session's wire body (the engine's `info()`), shaped for `release`."""
    if not release.private_key_jwt:
        body.pop("sinkCredential", None)
    else:
        credential = body.get("sinkCredential")
        if isinstance(credential, dict):
            body["sinkCredential"] = {**credential, "jwksUri": jwks_uri}
    server = body.get("applicationServer")
    if not release.address_list and isinstance(server, dict) and "ipAddresses" in server:
        addresses = [ipaddress.ip_address(a) for a in server["ipAddresses"]]
        found = {
            "ipv4Address": next((str(a) for a in addresses if a.version == 4), None),
            "ipv6Address": next((str(a) for a in addresses if a.version == 6), None),
        }
        body["applicationServer"] = {k: v for k, v in found.items() if v is not None}
    return body


def code_for(path: str, code: str) -> str:
    """The error code the release serving `path` gives for an engine error's `code`."""
    release = apis.serving(path)
    return release.code(path, code) if release is not None else code
