"""`Sandbox`: the simulated QoD API served for real on a background thread."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from .. import apis
from .._net.asgi import mounted
from .._net.outbound import OutboundPolicy
from .._net.server import BackgroundServer, ServerThread
from ..client.keywords import checked
from ..errors import InvalidRequest
from ..models import Device, SessionInfo
from ..relay import RelayApp, channel_name
from .api import JWKS_PATH, create_app
from .audience import Audiences
from .clock import Clock, rfc3339
from .devices import TestDevices
from .engine import RETENTION, Engine, SandboxSession, device_of
from .faults import Faults, NoticeFaultKind
from .link import SAMPLE_COLUMNS, Episode, Links
from .notifier import Delivery, Notifier
from .oidc import OAuthClient, Provider
from .profiles import default_profiles
from .ratelimit import RATE_LIMIT, CallerLimiter
from .refusals import as_api_error
from .scheduler import Scheduler

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    import pandas as pd
    from fastapi import APIRouter

    from ..classroom.gate import Gate
    from ..client.clients import AsyncQodClient, QodClient
    from ..client.providers import ClientSettings

__all__ = ["RELAY_PATH", "Sandbox"]

RELAY_PATH = "/_relay"


class Sandbox(BackgroundServer):
    """A CAMARA QoD API simulator on `127.0.0.1`, started on construction.

    Re-running the cell (or line) that made it starts it afresh in its place, as the first run did
    (same URL; its sessions are gone), with a `SettingsChanged` warning naming what changed, if
    anything did; a `Sandbox(...)` written on another line is another sandbox, beside it.
    `reuse=False` starts another one that no re-run replaces. Use it as a context manager, or call
    `stop()`, to free its port; every other method of a stopped one raises ServerStopped, naming
    the sandbox that replaced it, if one did. (`Sandbox._reruns` holds the running ones by where
    each was written: see `qodlab._net.server.Reruns`.)

    Parameters:
        speed: sandbox seconds per real second (60: a ten-minute session lasts ten seconds).
        provisioning_delay: sandbox seconds from REQUESTED to AVAILABLE (0: AVAILABLE at once).
        strict: require https sinks, as CAMARA v1.1 does.
        api_key: when set, requests need it as `Authorization: Bearer` or `X-RapidAPI-Key`.
        retry_backoff, max_attempts: the notification retry policy (real seconds, doubling).
        certfile, keyfile: serve HTTPS with this certificate (the API and the relay).
        cafile: trust this CA (besides the system's) when delivering to https sinks.
        seed: the simulated links' seed: the same seed gives the same metrics (`metrics`).
        auth: "oidc" makes it an OpenID provider whose signed access tokens every API request needs
            (scopes per operation, sessions owned by their client, the device from a three-legged
            token); `oauth_client()` registers a client. Tokens live `token_ttl` sandbox seconds.
        revocation_delay: sandbox seconds a revoked QoS Provisioning assignment stays AVAILABLE /
            DELETE_REQUESTED (DELETE answers 202); 0 revokes at once (204).
        unsupported_identifiers: device identifier types this network does not support (e.g.
            `networkAccessIdentifier`): a request naming a device only by them is 422
            UNSUPPORTED_IDENTIFIER.
        reuse: False starts a new sandbox even when one with these settings runs, and no later
            `Sandbox(...)` is given it.
        notifications: False makes it a provider that delivers no notifications (Commonalities r4.4):
            a create naming a `sink` (a session on any version, an assignment, a Network as Code
            `webhook` or `notificationUrl`) is 422 EVENT_NOTIFICATIONS_NOT_SUPPORTED and creates
            nothing; without a sink it is as usual, to be followed by polling.
        allowed_hosts: host names it answers to besides loopback's (served on a network by name; `qodlab._net.hosts`).
        loopback_sinks, private_sinks: whether notifications (and PRIVATE_KEY_JWT token requests) may go to
            loopback addresses (a laptop's listener: yes by default) and to private ones (no by default);
            link-local and cloud metadata addresses never (`qodlab._net.outbound`).
        rate_limit: each caller's API requests a second (credential, else client address; bursts of ten
            seconds' worth), beyond which 429 TOO_MANY_REQUESTS with Retry-After; None: no limit. A classroom's gate
            limits each student instead (`qodlab.sandbox.ratelimit`).

    Its documented test devices (`test_devices()`, `qodlab.sandbox.devices`) answer as a real
    network answers for devices it does not know or does not serve, and for profiles restricted to some.

    It also serves a relay at `/_relay/` (`relay_url`), speaking smee.io's protocol, so that a
    listener can take its notifications the way it would from a real network: through a relay.
    """

    _secret = frozenset({"api_key"})
    _held = "its sessions"

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        speed: float = 1.0,
        provisioning_delay: float = 1.0,
        retention: float = RETENTION,
        strict: bool = False,
        api_key: str | None = None,
        max_attempts: int = 6,
        retry_backoff: float = 0.5,
        reuse: bool = True,
        certfile: str | os.PathLike[str] | None = None,
        keyfile: str | os.PathLike[str] | None = None,
        cafile: str | os.PathLike[str] | None = None,
        seed: int = 0,
        auth: Literal["key", "oidc"] = "key",
        token_ttl: float = 3600.0,
        gate: Gate | None = None,
        routers: Sequence[Callable[[Sandbox], APIRouter]] = (),
        unsupported_identifiers: Sequence[str] = (),
        revocation_delay: float = 1.0,
        notifications: bool = True,
        allowed_hosts: Sequence[str] = (),
        loopback_sinks: bool = True,
        private_sinks: bool = False,
        rate_limit: float | None = RATE_LIMIT,
    ) -> None:
        """Wire the clock, engine, links, app, server and notifier (over 50 lines: 29 are the options' signature)."""
        _numbers(
            speed=speed,
            provisioning_delay=provisioning_delay,
            retention=retention,
            seed=seed,
            max_attempts=max_attempts,
            retry_backoff=retry_backoff,
            token_ttl=token_ttl,
            revocation_delay=revocation_delay,
        )
        self.api_key = api_key
        self.clock = Clock(speed)
        self.faults = Faults()
        self.engine = Engine(
            self.clock,
            default_profiles(),
            self.faults,
            provisioning_delay=provisioning_delay,
            retention=retention,
            strict=strict,
            devices=TestDevices(unsupported=unsupported_identifiers),
            revocation_delay=revocation_delay,
            notifications=notifications,
        )
        self.engine.sinks = OutboundPolicy(loopback=loopback_sinks, private=private_sinks)
        self.limiter = CallerLimiter(rate_limit) if rate_limit is not None and gate is None else None
        """Each caller's API requests a second (a classroom's gate has its own, per student)."""
        self.gate = gate
        """Who may call (a classroom's keys and rates), when something other than `api_key` decides."""
        self.routers = tuple(routers)
        self.provider = Provider(self.clock, token_ttl) if auth == "oidc" else None
        """The OpenID provider, with auth="oidc"."""
        self._own_client: OAuthClient | None = None
        self._known: dict[str, tuple[tuple[Any, ...], SessionInfo]] = {}  # known_sessions' SessionInfo by id
        self._follow_links(seed)
        self.relay = RelayApp()
        self.cafile = str(cafile) if cafile is not None else None
        self.audiences = Audiences()
        """Who each route is for (`qodlab.sandbox.audience`), as `create_app` declares them."""
        self.app = create_app(self)
        """The sandbox's FastAPI app (its routes; the relay is mounted beside it)."""
        self._server = self._server_thread(host, port, certfile, keyfile, allowed_hosts)
        self.notifier = self._notifier(max_attempts, retry_backoff)
        self.engine.subscribe(self.notifier.submit)
        self.start()

    def _follow_links(self, seed: int) -> None:
        """The simulated links, recording every change, and the scheduler that wakes when something falls due."""
        self.links = Links(self.engine.profiles, seed=seed)
        """Every device's simulated link: `metrics()` reads it, `congest()` loads its cell."""
        self.engine.subscribe(self.links.record)
        self.scheduler = Scheduler(self.engine)
        self.engine.on_schedule(self.scheduler.wake)
        self.clock.on_change(self.scheduler.wake)

    def _server_thread(
        self,
        host: str,
        port: int,
        certfile: str | os.PathLike[str] | None,
        keyfile: str | os.PathLike[str] | None,
        allowed_hosts: Sequence[str],
    ) -> ServerThread:
        """The server of the app and, mounted beside it, the relay."""
        return ServerThread(
            mounted(self.app, {RELAY_PATH: self.relay}),
            host,
            port,
            name="qodlab-sandbox",
            warm_up="/health",
            certfile=certfile,
            keyfile=keyfile,
            allowed_hosts=allowed_hosts,
        )

    def _notifier(self, max_attempts: int, retry_backoff: float) -> Notifier:
        """The notifier, delivering to sinks as the engine's outbound policy allows."""
        return Notifier(
            self.clock,
            self.faults,
            source="urn:qodlab:sandbox",
            max_attempts=max_attempts,
            backoff=retry_backoff,
            cafile=self.cafile,
            policy=self.engine.sinks,
        )

    @classmethod
    def stand_in(cls, speed: float = 60.0, **kwargs: Any) -> Sandbox:
        """A sandbox that behaves like a real network: strict (https sinks only), served over HTTPS.

        Its certificate comes from a private CA minted for it (`cafile`, which its `client()`
        trusts). A listener's http loopback URL is refused as a sink, as a real network refuses
        it: notifications must come through a relay (its own `/_relay/`) or by polling.
        """
        from .tls import local_certificates

        files = local_certificates()
        return cls(
            speed=speed,
            strict=True,
            certfile=files.certfile,
            keyfile=files.keyfile,
            cafile=files.cafile,
            reuse=False,
            **kwargs,
        )

    def __repr__(self) -> str:
        state = self._server.state.name.lower()
        return f"<Sandbox {self.url} speed={self.speed:g} {state}>"

    def _repr_html_(self) -> str:
        """A card: where it is, its API docs (through Jupyter's server proxy where there is one), clock, sessions."""
        from collections import Counter

        from ..notebook.display import card, docs_link, link, plural, server_rows

        state = self._server.state.name.lower()
        sessions = self.engine.sessions()
        counts = Counter(s.status.value for s in sessions)
        rows = server_rows(
            self.url,
            state,
            [
                ("API docs", link(docs_link(self.url), "interactive API reference")),
                ("speed", f"{self.speed:g} sandbox seconds a second"),
                ("clock", self.now().isoformat(timespec="seconds")),
                (
                    "sessions",
                    plural(len(sessions), "session") + "".join(f", {c} {s}" for s, c in sorted(counts.items())),
                ),
            ],
        )
        return card("Sandbox", rows)

    # -- life ------------------------------------------------------------------------------

    def start(self) -> Sandbox:
        """Start serving (a no-op when running)."""
        super().start()
        self.notifier.source = f"{self.url}{apis.default().qod_path}"
        return self

    def stop(self) -> None:
        """End the relay's open streams, stop serving and free the port."""
        self.relay.close()
        super().stop()

    # -- where ------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The API root, e.g. `http://127.0.0.1:8123`."""
        return self._server.url

    @property
    def relay_url(self) -> str:
        """The root of the sandbox's relay: channels are `{relay_url}/{name}`, `/new` makes one."""
        return f"{self.url}{RELAY_PATH}"

    def test_devices(self) -> pd.DataFrame:
        """The documented test devices, one row each: device, behaviour, profiles, description."""
        import pandas as pd

        assert self.engine.devices is not None
        rows = [d.as_dict() for d in self.engine.devices.devices]
        return pd.DataFrame(rows, columns=["device", "behaviour", "profiles", "description"])

    def own_oauth_client(self) -> OAuthClient:
        """The OAuth client this sandbox's own `client()` and dashboards use (auth="oidc"), registered once."""
        if self._own_client is None:
            self._own_client = self.oauth_client()
        return self._own_client

    def oauth_client(self, client_id: str | None = None) -> OAuthClient:
        """Register an OAuth client (auth="oidc"): its `client_id` and `secret`."""
        if self.provider is None:
            msg = 'this sandbox checks API keys, not OAuth tokens: start it with Sandbox(auth="oidc")'
            raise InvalidRequest(msg, "auth")
        return self.provider.register(client_id)

    @property
    def issuer(self) -> str:
        """The OpenID issuer (auth="oidc"): `{issuer}/.well-known/openid-configuration` describes it."""
        return self.url

    def new_channel(self) -> str:
        """A fresh channel on the sandbox's relay, e.g. for `Listener(relay=sandbox.new_channel())`."""
        return f"{self.relay_url}/{channel_name()}"

    @property
    def qod_url(self) -> str:
        """Base URL of the default release's Quality on Demand API (`qodlab.apis.default()`: 1.1.0)."""
        return f"{self.url}{apis.default().qod_path}"

    @property
    def jwks_uri(self) -> str:
        """The JWK set whose key signs this sandbox's PRIVATE_KEY_JWT client assertions (onboarding's `jwksUri`)."""
        return f"{self.url}{JWKS_PATH}"

    def share_private_key_jwt(self, client_id: str, token_uri: str, api_client: str | None = None) -> None:
        """Onboarding for PRIVATE_KEY_JWT: sessions that ask for it without naming a client id and token
        endpoint get their tokens at `token_uri` as `client_id`. Per API client (a token's client id under
        auth="oidc"); with `api_client` None, for every caller the sandbox does not tell apart."""
        with as_api_error():
            self.engine.share_private_key_jwt(client_id, token_uri, api_client)

    def client_settings(self) -> ClientSettings:
        """What a client needs to talk to this sandbox: its URL, API key, CA and clock; under auth="oidc", a
        client-credentials flow of its own OAuth client (two-legged tokens for QoD and QoS Provisioning)."""
        from ..client.providers import ClientSettings

        auth = None
        if self.provider is not None:
            from ..client.auth import PROVISIONING_SCOPES, QOD_SCOPES, ClientCredentials

            registered = self.own_oauth_client()
            auth = ClientCredentials(
                client_id=registered.client_id,
                client_secret=registered.secret,
                issuer=self.issuer,
                cafile=self.cafile,
                scopes=QOD_SCOPES + PROVISIONING_SCOPES,
            )
        return ClientSettings(base_url=self.url, token=self.api_key, auth=auth, cafile=self.cafile, now=self.now)

    def client(self, **kwargs: Any) -> QodClient:
        """A `QodClient` for this sandbox."""
        from ..client.clients import QodClient

        return QodClient.for_sandbox(self, **kwargs)

    def async_client(self, **kwargs: Any) -> AsyncQodClient:
        """An `AsyncQodClient` for this sandbox."""
        from ..client.clients import AsyncQodClient

        return AsyncQodClient.for_sandbox(self, **kwargs)

    # -- clock ------------------------------------------------------------------------------

    @property
    def speed(self) -> float:
        """Sandbox seconds per real second."""
        return self.clock.speed

    @speed.setter
    def speed(self, speed: float) -> None:
        self.clock.speed = speed

    def now(self) -> datetime:
        """The sandbox clock's current time."""
        return datetime.fromtimestamp(self.clock.now(), UTC)

    def advance(self, seconds: float) -> None:
        """Jump the sandbox clock forward; what falls due in between happens now."""
        self.clock.advance(seconds)
        self.engine.advance()

    def clock_info(self) -> dict[str, Any]:
        """Speed and current time, as the `/_sandbox/clock` path shows them."""
        return {"speed": self.speed, "now": rfc3339(self.clock.now())}

    # -- faults -----------------------------------------------------------------------------

    def terminate(self, session_id: uuid.UUID | str) -> SandboxSession:
        """The network ends a session (or an assignment): UNAVAILABLE / NETWORK_TERMINATED, notified.

        Raises NotFound for an id this sandbox does not hold, Conflict for one already ended.
        """
        with as_api_error():
            return self.engine.terminate(_uuid(session_id))

    def fail_provisioning(self, device: Device | dict[str, Any] | None = None, profile: str | None = None) -> None:
        """Sessions for `device`, or with `profile`, end NETWORK_TERMINATED instead of AVAILABLE."""
        with checked("device"):
            dev = Device.model_validate(device) if isinstance(device, dict) else device
        self.faults.fail_provisioning(dev, profile)

    def fail_at_creation(self, count: int = 1, profile: str | None = None) -> None:
        """The network refuses the next `count` sessions (with `profile`) at once: 201 UNAVAILABLE, at creation."""
        self.faults.fail_at_creation(count, profile)

    def drop_notifications(self, count: int = 1) -> None:
        """Never send the next `count` notifications."""
        self.faults.add_notice_fault(NoticeFaultKind.DROP, count)

    def delay_notifications(self, seconds: float, count: int = 1) -> None:
        """Send the next `count` notifications `seconds` (real) late."""
        self.faults.add_notice_fault(NoticeFaultKind.DELAY, count, seconds)

    def duplicate_notifications(self, count: int = 1) -> None:
        """Send the next `count` notifications twice, with the same event id."""
        self.faults.add_notice_fault(NoticeFaultKind.DUPLICATE, count)

    def fail_api_calls(self, count: int = 1, status: int = 503, retry_after: float | None = None) -> None:
        """Answer the next `count` API calls with `status` (429 or 503)."""
        self.faults.add_api_fault(status, count, retry_after)

    # -- the simulated link ------------------------------------------------------------------

    def metrics(
        self, device: Device | dict[str, Any], start: datetime | None = None, end: datetime | None = None
    ) -> pd.DataFrame:
        """A device's link, one row per sandbox second (the last ten minutes by default).

        Columns: time, downlink_mbps, uplink_mbps, latency_ms, jitter_ms, loss_pct, session_id and
        qos_profile (while a session lifts it), congested.
        """
        stop = end.timestamp() if end is not None else self.clock.now()
        first = start.timestamp() if start is not None else stop - 600
        columns = self.links.samples(_key(device), first, stop)
        import pandas as pd

        frame = pd.DataFrame(columns, columns=list(SAMPLE_COLUMNS))
        frame["time"] = pd.to_datetime(frame["time"], unit="s", utc=True)
        return frame

    def known_sessions(self, ids: Iterable[str] | None = None) -> dict[str, SessionInfo]:
        """Each session and assignment whose status changed within the link's memory (a day of sandbox
        time), by id (only `ids`, when given): what a timeline needs to label its rows and draw the
        devices' links from an event log, which names no devices (`timeline_png(log, metrics=sandbox)`).

        Sparse: the id, device, profile and the status it last changed to (duration 0: not tracked).
        """
        seen = self.links.sessions()
        if ids is not None:
            seen = {sid: seen[sid] for sid in ids if sid in seen}
        cache = self._known  # a live timeline asks on every redraw: build each SessionInfo once per change
        known = {}
        for sid, facts in seen.items():
            cached = cache.get(sid)
            if cached is None or cached[0] != facts:
                device, profile, status = facts
                info = SessionInfo.model_construct(
                    session_id=uuid.UUID(sid),
                    duration=0,
                    qos_status=status,
                    device=device_of(device),
                    qos_profile=profile,
                )
                cached = cache[sid] = (facts, info)
            known[sid] = cached[1]
        if len(cache) > 2 * len(self.links.sessions()) + 1000:  # forget what the links forgot
            self._known = {sid: cache[sid] for sid in self.links.sessions() if sid in cache}
        return known

    def congest(
        self, device: Device | dict[str, Any] | None = None, factor: float = 2.0, seconds: float = 300.0
    ) -> Episode:
        """Load the cell `factor` times more from now, for `seconds` (sandbox): one device's, or every device's."""
        return self.links.congest(self.clock.now(), seconds, factor, _key(device) if device is not None else None)

    def deliveries(self) -> list[Delivery]:
        """Every notification delivery attempt so far, oldest first."""
        return self.notifier.deliveries()


def _numbers(**given: Any) -> None:
    """InvalidRequest for a setting that is not a number (`Sandbox(speed="60")`), naming it and what it takes."""
    for name, value in given.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            example = f"{name}={float(value):g}" if isinstance(value, str) and _numeric(value) else f"{name}=60"
            msg = f"{name}: {value!r} is a {type(value).__name__}; {name} takes a number (e.g. {example})"
            raise InvalidRequest(msg, name)


def _numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _key(device: Device | dict[str, Any]) -> tuple[str, str]:
    """A device's preferred identifier, the key its link is kept under (as the engine keys sessions)."""
    if isinstance(device, Device):
        return device.identifiers()[0]
    with checked("device"):
        return Device.model_validate(device).identifiers()[0]


def _uuid(session_id: uuid.UUID | str) -> uuid.UUID:
    try:
        return uuid.UUID(str(session_id))
    except ValueError:
        msg = f"session_id: {session_id!r} is not a session id (a UUID, such as session.session_id)"
        raise InvalidRequest(msg, "session_id") from None
