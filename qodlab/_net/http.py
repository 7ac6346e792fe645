"""Small HTTP helpers shared by the client and the sandbox."""

from __future__ import annotations

import email.utils
import ipaddress
import time

__all__ = ["is_loopback", "parse_retry_after"]


def is_loopback(host: str) -> bool:
    """Whether a host name or address is this machine (localhost, 127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After value (delta-seconds or HTTP date), if any."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
