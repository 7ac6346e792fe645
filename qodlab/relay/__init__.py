"""Notifications through a relay: for a notebook that nothing on the internet can reach.

A relay is a public URL that accepts the network's POSTs and streams them, as Server-Sent Events,
to whoever subscribes; a notebook only opens an outbound connection. qodlab speaks the protocol of
smee.io (`protocol`), so `Listener(relay="https://smee.io/CHANNEL")` works with smee.io itself,
with `qodlab relay` (`Relay`, a server of our own), and with the sandbox's `/_relay/`.

Anyone who knows a channel's URL can read what is sent to it, the bearer token included: channel
names are unguessable, and the listener still checks the token.
"""

from __future__ import annotations

import os

from .server import Relay, RelayApp, channel_name
from .subscriber import Subscription, new_channel

__all__ = ["DEFAULT_RELAY", "Relay", "RelayApp", "Subscription", "channel_name", "default_relay", "new_channel"]

DEFAULT_RELAY = "https://smee.io"
"""The relay server `Listener(relay=True)` opens a channel on, unless QODLAB_RELAY names another."""


def default_relay() -> str:
    """The relay server to open channels on: $QODLAB_RELAY, or smee.io."""
    return os.environ.get("QODLAB_RELAY", DEFAULT_RELAY)
