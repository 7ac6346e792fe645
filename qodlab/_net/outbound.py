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

The listener's own requests (its relay stream and probes, a relay's `/new`, the JWK set it checks
PRIVATE_KEY_JWT assertions against) go through `transport(policy)`: httpx (which follows no redirect unless told
to) connecting only to the addresses the policy allows, names resolved there. Their URLs are the listener's
owner's choice, so `LISTENER` allows loopback (a relay on the laptop, or in a test) and private addresses (a
relay on a classroom's LAN); link-local and metadata addresses never.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

__all__ = ["LISTENER", "MAX_RESPONSE_BYTES", "OutboundPolicy", "read_capped", "resolver", "transport"]

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


LISTENER = OutboundPolicy(loopback=True, private=True)
"""Where a listener's own requests may go: its owner's relay and JWK set, anywhere but link-local and metadata."""


def _allowed(policy: OutboundPolicy, host: str, found: list[str]) -> list[str]:
    """The addresses of `found` the policy allows; ConnectError (httpcore's, httpx's ConnectError) if none."""
    import httpcore

    allowed = [address for address in found if policy.address_refusal(address) is None]
    if not allowed:
        why = policy.address_refusal(found[0]) if found else "no address"
        msg = f"refused: {host} resolves to {why}"
        raise httpcore.ConnectError(msg)
    return allowed


def transport(policy: OutboundPolicy, *, verify: Any = True, sync: bool = False) -> Any:
    """An httpx transport (async, or sync with `sync`) that connects only where `policy` allows.

    Names are resolved by the transport itself, at connect time, and only an allowed address is connected to
    (TLS still checks the certificate against the name). httpx follows no redirect unless asked to."""
    import httpx

    made: Any = httpx.HTTPTransport(verify=verify) if sync else httpx.AsyncHTTPTransport(verify=verify)
    pool = made._pool  # httpx builds httpcore's pool with its default backend; this one checks each address
    assert hasattr(pool, "_network_backend")
    pool._network_backend = _sync_backend(policy) if sync else _async_backend(policy)
    return made


def _async_backend(policy: OutboundPolicy) -> Any:
    """httpcore's async network backend, connecting to the addresses `policy` allows, one after another."""
    import anyio
    import httpcore

    class PolicyBackend(httpcore.AsyncNetworkBackend):
        def __init__(self) -> None:
            self._inner = httpcore.AnyIOBackend()

        async def connect_tcp(
            self,
            host: str,
            port: int,
            timeout: float | None = None,
            local_address: str | None = None,
            socket_options: Any = None,
        ) -> httpcore.AsyncNetworkStream:
            try:
                found = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            except OSError as exc:
                raise httpcore.ConnectError(str(exc)) from None
            error: Exception | None = None
            for address in _allowed(policy, host, [str(info[4][0]) for info in found]):
                try:
                    return await self._inner.connect_tcp(address, port, timeout, local_address, socket_options)
                except httpcore.ConnectError as exc:
                    error = exc
            assert error is not None
            raise error

        async def connect_unix_socket(self, path: str, timeout: float | None = None, socket_options: Any = None) -> Any:
            raise httpcore.ConnectError("no unix sockets")

        async def sleep(self, seconds: float) -> None:
            await self._inner.sleep(seconds)

    return PolicyBackend()


def _sync_backend(policy: OutboundPolicy) -> Any:
    """httpcore's sync network backend, connecting to the addresses `policy` allows, one after another."""
    import httpcore

    class SyncPolicyBackend(httpcore.NetworkBackend):
        def __init__(self) -> None:
            self._inner = httpcore.SyncBackend()

        def connect_tcp(
            self,
            host: str,
            port: int,
            timeout: float | None = None,
            local_address: str | None = None,
            socket_options: Any = None,
        ) -> httpcore.NetworkStream:
            try:
                found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            except OSError as exc:
                raise httpcore.ConnectError(str(exc)) from None
            error: Exception | None = None
            for address in _allowed(policy, host, [str(info[4][0]) for info in found]):
                try:
                    return self._inner.connect_tcp(address, port, timeout, local_address, socket_options)
                except httpcore.ConnectError as exc:
                    error = exc
            assert error is not None
            raise error

    return SyncPolicyBackend()


async def read_capped(response: Any, cap: int = MAX_RESPONSE_BYTES) -> bytes:
    """At most `cap` bytes of an httpx streamed response's body; ValueError past them (the rest is not read)."""
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) > cap:
            msg = f"an answer over {cap} bytes"
            raise ValueError(msg)
    return bytes(body)
