"""Whether a relay carries what the provider will send: a probe POST per content type.

smee.io (fastify 5 with its default parsers) answers a POST of `application/cloudevents+json`,
what CAMARA QoD 0.10 and 1.x providers send, with `415 FST_ERR_CTP_INVALID_MEDIA_TYPE` and relays
nothing, while `application/json` passes. So a subscription, once its stream is open, POSTs one
small probe of each content type to its own channel and watches its stream for them: a refusal is
kept as a `Refusal`, and the probes that come through are recognised and dropped, never handled
as notifications. A probe carries no token and nothing else secret: only a random nonce.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["CLOUDEVENTS", "PROBED_TYPES", "PROBE_KEY", "RELAY_ADVICE", "Refusal", "probe_body", "probe_of"]

CLOUDEVENTS = "application/cloudevents+json"
PROBED_TYPES = (CLOUDEVENTS, "application/json")
"""The content types providers send notifications with (CAMARA QoD 0.10 / 1.x; v0.9 and Network as Code's root)."""
PROBE_KEY = "qodlabRelayProbe"
RELAY_ADVICE = (
    "For notifications through a relay, run `qodlab relay` where the network can reach it (it carries every "
    "content type) and set $QODLAB_RELAY to its URL"
)
"""What to do about a relay that refuses a content type (said by the warnings and errors)."""


@dataclass(frozen=True, slots=True)
class Refusal:
    """A relay that will not carry one content type: its answer to the probe, or None (it took it, relayed nothing)."""

    host: str
    content_type: str
    status: int | None

    def __str__(self) -> str:
        """In words, e.g. "smee.io refuses application/cloudevents+json (HTTP 415)"."""
        if self.status is None:
            return f"{self.host} takes {self.content_type} but did not relay it"
        return f"{self.host} refuses {self.content_type} (HTTP {self.status})"


def probe_body(nonce: str, content_type: str) -> bytes:
    """A probe's body: the nonce and the content type it was sent as (no token, nothing secret)."""
    return json.dumps({PROBE_KEY: nonce, "contentType": content_type}).encode()


def probe_of(data: Mapping[str, Any]) -> tuple[str, str] | None:
    """(nonce, content type) when a relay message is a probe (anyone's: all are dropped), else None."""
    body = data.get("body")
    if not isinstance(body, dict) or PROBE_KEY not in body:
        return None
    return str(body.get(PROBE_KEY)), str(body.get("contentType"))
