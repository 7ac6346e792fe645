"""Where qodlab's own outbound requests may go: the address check, made at connect time, after DNS resolution.

A sink URL (or a PRIVATE_KEY_JWT `tokenUri`) is chosen by whoever creates a session: a classmate, a web page, a
hostile client. Sent as given, a notification reaches whatever the name resolves to: a service on the sandbox's
own machine (`127.0.0.1`), the LAN, the cloud's metadata endpoint (`169.254.169.254`). Established webhook
senders (svix, GitHub, Stripe) refuse such addresses after resolving the name, and follow no redirect; qodlab
does the same:

- `loopback` (127.0.0.0/8, ::1, and 0.0.0.0, which Linux connects to loopback): allowed where `loopback` is
  (a laptop's sandbox, whose listener is on loopback; a classroom served on loopback alone);
- private, shared (CGNAT), documentation, benchmarking, reserved and multicast ranges: allowed with `private`;
- link-local (169.254.0.0/16, fe80::/10), cloud metadata (169.254.169.254, fd00:ec2::254): never;
- every other (global) address: allowed.

`resolver(policy)` applies it to every name aiohttp resolves (the check happens on the addresses actually
connected to, so a name cannot resolve around it, nor rebind between a check and the connection); `refusal`
applies it to an address written in a URL, which aiohttp connects to without resolving.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

__all__ = ["MAX_RESPONSE_BYTES", "OutboundPolicy", "resolver"]

MAX_RESPONSE_BYTES = 64 * 1024  # what is read of a sink's or token endpoint's answer; the rest is dropped
_METADATA = frozenset({ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")})


@dataclass(frozen=True)
class OutboundPolicy:
    """Which non-global addresses outbound requests may reach."""

    loopback: bool = True
    """127.0.0.0/8, ::1 (and 0.0.0.0)."""
    private: bool = False
    """Private, shared, documentation, reserved and multicast ranges."""

    def address_refusal(self, address: str) -> str | None:
        """Why an IP address may not be connected to, or None."""
        try:
            ip = ipaddress.ip_address(address.split("%", 1)[0].strip("[]"))
        except ValueError:
            return None  # a name: checked when it is resolved
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        if ip in _METADATA or ip.is_link_local:
            return f"{ip} is a link-local or cloud metadata address: never a notification target"
        if ip.is_loopback or ip.is_unspecified:
            return None if self.loopback else f"{ip} is a loopback address, not allowed here (loopback_sinks)"
        if ip.is_global and not ip.is_multicast:
            return None
        return None if self.private else f"{ip} is a private or reserved address, not allowed here (private_sinks)"

    def refusal(self, url: str) -> str | None:
        """Why a URL whose host is an IP address may not be requested, or None (a name is checked at connect time)."""
        host = urlsplit(url).hostname
        return self.address_refusal(host) if host else "no host in the URL"


def resolver(policy: OutboundPolicy) -> Any:
    """An aiohttp resolver that resolves as usual and keeps only the addresses `policy` allows."""
    from aiohttp.abc import AbstractResolver, ResolveResult
    from aiohttp.resolver import ThreadedResolver

    class PolicyResolver(AbstractResolver):
        def __init__(self) -> None:
            self._inner = ThreadedResolver()

        async def resolve(
            self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
        ) -> list[ResolveResult]:
            found = await self._inner.resolve(host, port, family)
            allowed = [entry for entry in found if policy.address_refusal(entry["host"]) is None]
            if not allowed:
                why = policy.address_refusal(found[0]["host"]) if found else "no address"
                msg = f"{host} resolves to {why}"
                raise OSError(msg)
            return allowed

        async def close(self) -> None:
            await self._inner.close()

    return PolicyResolver()
