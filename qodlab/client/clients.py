"""`QodClient` and `AsyncQodClient`: Quality on Demand, QoS Profiles and QoS Provisioning over httpx.

A client speaks one release (`release=`, a row of `qodlab.apis.RELEASES`: "1.1.0" by default,
"1.2.0-rc.3", or the older "0.10"), whose base paths its URLs are built from; QoS Provisioning
(`assign_qos`) where that release has it beside QoD.

The pair differs only by `async`/`await`: `_BaseClient` builds every request (URL, headers,
body) and parses every response, and does no I/O.

    client = QodClient.for_sandbox(sandbox)                       # no credentials
    client = QodClient("https://api.operator.example", token=...)  # any CAMARA endpoint
    client = QodClient.network_as_code()                           # key from NAC_TOKEN
    client = QodClient("https://operator.example/api", release="0.10")  # the older /qod/v0 release
    client = QodClient.for_provider("orange", client_id=..., client_secret=...)  # a documented preset
"""

from __future__ import annotations

import asyncio
import os
import ssl
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, Self, TypeVar

import httpx

from .. import __version__
from .._net.http import parse_retry_after
from ..errors import ApiError, InvalidRequest, QodTimeout, TransportError
from ..models import (
    ApplicationServer,
    CreateAssignment,
    CreateSession,
    Device,
    ExtendSession,
    ProfileStatus,
    QosProfile,
    RetrieveProfiles,
    RetrieveSessions,
    to_wire,
)
from ..notebook.kernel import pause
from .assignments import Assignment, AsyncAssignment
from .keywords import checked, deprecated, no_unknown, profile_keyword, renamed, sink_fields
from .providers import NAC_API_HOST, NAC_GATEWAY, PRESETS, ClientSettings, ProvidesClient, Release
from .providers import release as release_named
from .sessions import AsyncSession, Session

if TYPE_CHECKING:
    from ..receiving.listener import Listener

__all__ = ["NAC_HOST", "AsyncQodClient", "QodClient"]

NAC_HOST = NAC_GATEWAY  # the host requests go to; `X-RapidAPI-Host` names NAC_API_HOST
RETRY_STATUSES = (429, 503)
T = TypeVar("T")
S = TypeVar("S", Session, AsyncSession)
A = TypeVar("A", Assignment, AsyncAssignment)


@dataclass(frozen=True)
class _Call(Generic[T]):
    """One API call: what to send and how to read the answer."""

    method: str
    url: str
    body: dict[str, Any] | None
    parse: Callable[[httpx.Response], T]


class _BaseClient(Generic[S, A]):
    """URLs, headers, bodies, retries and parsing shared by both clients; no I/O."""

    _session_class: type[S]
    _assignment_class: type[A]

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        api_key: str | None = None,
        api_host: str | None = None,
        release: str | Release | None = None,
        timeout: float = 10.0,
        max_retries: int = 3,
        max_retry_wait: float = 30.0,
        qod_path: str | None = None,
        profiles_path: str | None = None,
        cafile: str | None = None,
        auth: httpx.Auth | None = None,
        profiles: Sequence[str] | None = None,
        api: str | Release | None = None,
    ) -> None:
        """`api=` is the deprecated old name of `release=` ("1.1.0" when neither is given)."""
        # a key copied with its line end (a roster line, a file read whole) is the key
        token, api_key = (token or "").strip() or None, (api_key or "").strip() or None
        given = renamed(f"{type(self).__name__}()", "api", api, "release", release)
        self.release: Release = release_named(given if given is not None else "1.1.0")
        """The release it speaks: a row of `qodlab.apis.RELEASES` (paths, flags such as `address_list`)."""
        self._set_urls(base_url, qod_path or self.release.qod_path, profiles_path or self.release.profiles_path)
        self.profile_catalogue = tuple(profiles) if profiles is not None else None
        """Profile names a provider documents instead of serving a profiles API (Network as Code), or None."""
        self.timeout = timeout
        self.max_retries = max_retries
        self.max_retry_wait = max_retry_wait
        # https: the system's CAs, or a private one (a sandbox serving a test certificate)
        self._verify: ssl.SSLContext | bool = ssl.create_default_context(cafile=cafile) if cafile else True
        self.auth = auth
        """An auth flow (`qodlab.client.auth.ClientCredentials`, `Ciba`) that puts an access token on each request."""
        self._auth_kind = (
            "X-RapidAPI-Key" if api_key else "bearer" if token else type(auth).__name__ if auth else "none"
        )
        self._backoff: tuple[int, float] | None = None  # the status it waits out, and until when (monotonic)
        self.retries = 0
        """Requests repeated after a 429 or 503 so far."""
        self.api_now: Callable[[], datetime] | None = None
        """The API's clock where it is not this machine's: a sandbox's, which runs at its speed (time left)."""
        self._headers = _headers(token, api_key, api_host)

    def _set_urls(self, base_url: str, qod_path: str, profiles_path: str | None) -> None:
        """The API root, and the QoD, profiles and provisioning URLs under it (a QoD base given is cut back)."""
        root = base_url.rstrip("/")
        if root.endswith(qod_path):  # given the QoD base itself: derive the API root
            root = root[: -len(qod_path)]
        self.base_url = root
        self.qod_url = root + qod_path
        self.profiles_url = root + profiles_path if profiles_path else self.qod_url
        self.provisioning_url = root + self.release.provisioning_path if self.release.provisioning_path else None
        """QoS Provisioning of the same CAMARA release (assignments), where it has one."""

    def __repr__(self) -> str:
        auth = "none" if self._auth_kind == "none" else f"{self._auth_kind} ***"
        return f"<{type(self).__name__} {self.base_url} auth={auth}>"

    def _repr_html_(self) -> str:
        """A card: the API, its release, how it authenticates (the kind, never the secret)."""
        import html

        from ..notebook.display import card

        auth = "none" if self._auth_kind == "none" else f"{self._auth_kind} ***"
        rows = [
            ("API", html.escape(self.base_url)),
            ("release", html.escape(self.release.name)),
            ("auth", html.escape(auth)),
        ]
        return card(type(self).__name__, rows)

    # -- the factories, the same for both clients (each returns a client of its own class) ----------

    @classmethod
    def for_sandbox(cls, sandbox: ProvidesClient | str, **kwargs: Any) -> Self:
        """A client for a running qodlab sandbox (or its URL): anything with `client_settings()`.

        The client takes what the sandbox hands over (its URL, its key or token flow, the CA of its
        certificate) and runs on the sandbox's clock; other arguments override them.
        """
        settings = ClientSettings(sandbox) if isinstance(sandbox, str) else sandbox.client_settings()
        client = cls(**settings.client_args(), **kwargs)
        client.api_now = settings.now
        return client

    @classmethod
    def network_as_code(cls, key: str | None = None, *, api_host: str | None = None, **kwargs: Any) -> Self:
        """A client for Nokia Network as Code, as its SDK 8.0.0 talks to it; the key defaults to NAC_TOKEN.

        `api_host` overrides the `X-RapidAPI-Host` header (SDK 10.x's `rapidapi_host=`).
        """
        return cls._for_preset("network-as-code", {"key": key, "api_host": api_host}, kwargs)

    @classmethod
    def for_provider(cls, name: str, **kwargs: Any) -> Self:
        """A client for a documented provider (`qodlab.client.providers.PRESETS`), given what it needs.

        Other arguments override the preset's (`base_url=sandbox.url` makes the sandbox stand in).
        """
        return cls._for_preset(name, *_needs_apart(kwargs))

    @classmethod
    def _for_preset(cls, name: str, needs: Mapping[str, Any], given: Mapping[str, Any]) -> Self:
        """A client for the preset `name`, given what it needs; other arguments override the preset's."""
        return cls(**_overridden(_preset_args(name, needs), given))

    @property
    def api(self) -> Release:
        """Deprecated: `release`."""
        deprecated(f"{type(self).__name__}.api", "release")
        return self.release

    # -- calls: each public method of both clients is one of these ---------------------------

    def _http_options(self) -> dict[str, Any]:
        """What the httpx client of either kind is made with."""
        return {
            "headers": self._headers,
            "timeout": self.timeout,
            "trust_env": False,
            "verify": self._verify,
            "auth": self.auth,
        }

    @property
    def authentication(self) -> str:
        """How it authenticates, in words (a dashboard's header): never a key, token or secret."""
        describe = getattr(self.auth, "describe", None)
        if callable(describe):
            return str(describe())
        return {"X-RapidAPI-Key": "API key", "bearer": "bearer token", "none": "no credentials"}.get(
            self._auth_kind, self._auth_kind
        )

    @property
    def profiles_source(self) -> str:
        """Where `list_profiles()` gets its answer, in words (a dashboard's form says it)."""
        if self.profile_catalogue is not None:
            return "the provider's documented profile names (it has no QoS Profiles API)"
        return f"{self.profiles_url} (QoS Profiles {self.release.name})"

    @property
    def three_legged(self) -> bool:
        """Whether its access token names the device (then requests leave `device` out)."""
        return bool(getattr(self.auth, "three_legged", False))

    def _create_call(self, request: CreateSession | None, fields: dict[str, Any]) -> _Call[S]:
        made = create_request(request, **fields)
        if self.three_legged and made.device is not None:
            msg = "this client's access token names the device (three-legged): leave `device` out of the request"
            raise InvalidRequest(msg, "device")
        listed = made.application_server is not None and made.application_server.ip_addresses
        if listed and not self.release.address_list:
            msg = (
                f"application_server: a list of addresses is QoD 1.2's; this client speaks {self.release.name}: "
                'give one address (a string), or speak 1.2 (QodClient(url, release="1.2.0-rc.3"))'
            )
            raise InvalidRequest(msg, "application_server")
        body = _webhook_body(made) if self.release.webhook else to_wire(made)
        return _Call("POST", f"{self.qod_url}/sessions", body, self._parse_session)

    def _get_call(self, session_id: uuid.UUID | str) -> _Call[S]:
        return _Call("GET", f"{self.qod_url}/sessions/{_sid(session_id)}", None, self._parse_session)

    def _delete_call(self, session_id: uuid.UUID | str) -> _Call[None]:
        return _Call("DELETE", f"{self.qod_url}/sessions/{_sid(session_id)}", None, lambda _: None)

    def _extend_call(self, session_id: uuid.UUID | str, seconds: int) -> _Call[S]:
        with checked("seconds"):
            body = to_wire(ExtendSession(requested_additional_duration=seconds))
        return _Call("POST", f"{self.qod_url}/sessions/{_sid(session_id)}/extend", body, self._parse_session)

    def _retrieve_call(self, device: Device | Mapping[str, Any] | None) -> _Call[list[S]]:
        if self.three_legged and device is not None:
            msg = "this client's access token names the device (three-legged): call retrieve_sessions() without one"
            raise InvalidRequest(msg, "device")
        body = to_wire(RetrieveSessions(device=_device(device) if device is not None else None))
        return _Call("POST", f"{self.qod_url}/retrieve-sessions", body, self._parse_sessions)

    def _profiles_call(
        self, name: str | None, status: ProfileStatus | str | None, device: Device | Mapping[str, Any] | None
    ) -> _Call[list[QosProfile]]:
        with checked():
            query = RetrieveProfiles(
                name=name,
                status=_status(status) if status is not None else None,
                device=_device(device) if device is not None else None,
            )
        parse = _parse_profiles
        if self.release.profiles_lookup == "list":  # 0.10: GET /qos-profiles?name=&status=, no device filter
            if device is not None:
                msg = f"QoD {self.release.name} cannot filter profiles by device"
                raise InvalidRequest(msg, "device")
            params = {k: v for k, v in to_wire(query).items() if k in ("name", "status")}
            return _Call("GET", str(httpx.URL(f"{self.profiles_url}/qos-profiles", params=params)), None, parse)
        return _Call("POST", f"{self.profiles_url}/retrieve-qos-profiles", to_wire(query), parse)

    def _catalogue(self, name: str | None, status: ProfileStatus | str | None) -> list[QosProfile] | None:
        """The documented catalogue, filtered as the API would (None: ask the API)."""
        if self.profile_catalogue is None:
            return None
        wanted = _status(status) if status is not None else None
        found = [QosProfile(name=n, status=ProfileStatus.ACTIVE) for n in self.profile_catalogue]
        return [p for p in found if name in (None, p.name) and wanted in (None, p.status)]

    def _provisioning(self) -> str:
        if self.provisioning_url is None:
            msg = f"QoD {self.release.name} has no QoS Provisioning API beside it"
            raise InvalidRequest(msg, "release")
        return self.provisioning_url

    def _assign_call(
        self, device: Device | Mapping[str, Any] | None, profile: str | None, fields: dict[str, Any]
    ) -> _Call[A]:
        fields = dict(fields)
        no_unknown(fields, _ASSIGNMENT_KEYWORDS, "assign_qos()")
        profile = profile_keyword(profile, fields.pop("profile", None))
        explicit = any(k in fields for k in ("sink_credential", "sinkCredential"))
        sink, credential = sink_fields(
            fields.pop("sink", None),
            fields.pop("sink_token", None),
            fields.pop("sink_token_expires", None),
            credential=explicit,
        )
        given = {"device": device, "qos_profile": profile, "sink": sink, "sink_credential": credential, **fields}
        with checked():
            made = CreateAssignment.model_validate({k: v for k, v in given.items() if v is not None})
        body = to_wire(made)
        if self.three_legged and "device" in body:
            msg = "this client's access token names the device (three-legged): leave `device` out of the request"
            raise InvalidRequest(msg, "device")
        return _Call("POST", f"{self._provisioning()}/qos-assignments", body, self._parse_assignment)

    def _assignment_call(self, assignment_id: uuid.UUID | str) -> _Call[A]:
        url = f"{self._provisioning()}/qos-assignments/{_sid(assignment_id)}"
        return _Call("GET", url, None, self._parse_assignment)

    def _revoke_call(self, assignment_id: uuid.UUID | str) -> _Call[A | None]:
        url = f"{self._provisioning()}/qos-assignments/{_sid(assignment_id)}"
        return _Call("DELETE", url, None, lambda r: self._parse_assignment(r) if r.status_code == 202 else None)

    def _assignment_for_call(self, device: Device | Mapping[str, Any] | None) -> _Call[A]:
        body = to_wire(RetrieveSessions(device=_device(device) if device is not None else None))
        return _Call("POST", f"{self._provisioning()}/retrieve-qos-assignment", body, self._parse_assignment)

    def _parse_assignment(self, response: httpx.Response) -> A:
        assignment = self._assignment_class.model_validate(response.json())
        assignment._client = self  # type: ignore[assignment]
        return assignment

    def _profile_call(self, name: str) -> _Call[QosProfile]:
        url = f"{self.profiles_url}/qos-profiles/{name}"
        return _Call("GET", url, None, lambda r: QosProfile.model_validate(r.json()))

    # -- shared mechanics -------------------------------------------------------------------

    def _parse_session(self, response: httpx.Response) -> S:
        session = self._session_class.model_validate(response.json())
        session._client = self  # type: ignore[assignment]
        return session

    def _parse_sessions(self, response: httpx.Response) -> list[S]:
        sessions = [self._session_class.model_validate(item) for item in response.json()]
        for session in sessions:
            session._client = self  # type: ignore[assignment]
        return sessions

    def _request(self, http: httpx.Client | httpx.AsyncClient, call: _Call[Any]) -> httpx.Request:
        headers = {"x-correlator": str(uuid.uuid4())}
        return http.build_request(call.method, call.url, json=call.body, headers=headers)

    def _retry_delay(self, response: httpx.Response, attempt: int) -> float | None:
        """Seconds to wait before retrying, or None to stop."""
        if response.status_code not in RETRY_STATUSES or attempt >= self.max_retries:
            return None
        wait = parse_retry_after(response.headers.get("retry-after"))
        if wait is None:
            wait = min(self.max_retry_wait, 0.25 * 2**attempt)
        return wait if wait <= self.max_retry_wait else None

    def _backing_off(self, response: httpx.Response | None, delay: float = 0.0) -> None:
        """Note the wait in progress (None: no longer waiting), for `waiting`."""
        self._backoff = None if response is None else (response.status_code, time.monotonic() + delay)
        self.retries += response is not None

    @property
    def waiting(self) -> str | None:
        """What it is waiting out before repeating a request, in words (a dashboard's header), or None."""
        backoff = self._backoff
        if backoff is None:
            return None
        status, until = backoff
        why = "rate limited (429)" if status == 429 else f"the API is unavailable ({status})"
        return f"{why}: retrying in {max(0.0, until - time.monotonic()):.1f} s"

    @staticmethod
    def _result(call: _Call[T], response: httpx.Response) -> T:
        if response.is_error:
            raise ApiError.from_response(response)
        return call.parse(response)


def _transport_error(exc: httpx.TransportError, call: _Call[Any]) -> TransportError:
    where = f"{call.method} {call.url}"
    if isinstance(exc, httpx.TimeoutException):
        return QodTimeout(f"{where} timed out ({type(exc).__name__})")
    return TransportError(f"{where} failed: {type(exc).__name__}")


class QodClient(_BaseClient[Session, Assignment]):
    """Synchronous client; use as a context manager or call `close()`."""

    _session_class = Session
    _assignment_class = Assignment

    def __init__(self, base_url: str, *, transport: httpx.BaseTransport | None = None, **kwargs: Any) -> None:
        super().__init__(base_url, **kwargs)
        self._http = httpx.Client(transport=transport, **self._http_options())

    def close(self) -> None:
        """Close the connections."""
        self._http.close()

    def __enter__(self) -> QodClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _run(self, call: _Call[T]) -> T:
        for attempt in range(self.max_retries + 1):
            try:
                response = self._http.send(self._request(self._http, call))
            except httpx.TransportError as exc:
                raise _transport_error(exc, call) from None
            delay = self._retry_delay(response, attempt)
            if delay is None:
                break
            self._backing_off(response, delay)
            try:
                pause(delay)  # time.sleep that keeps a kernel's widgets redrawing ("retrying in 2.0 s")
            finally:
                self._backing_off(None)
        return self._result(call, response)

    def create_session(self, request: CreateSession | None = None, /, **fields: Any) -> Session:
        """Create a session from a `CreateSession` or its fields (see `create_request`)."""
        return self._run(self._create_call(request, fields))

    def get_session(self, session_id: uuid.UUID | str) -> Session:
        """A session by id."""
        return self._run(self._get_call(session_id))

    def delete_session(self, session_id: uuid.UUID | str) -> None:
        """Delete a session."""
        self._run(self._delete_call(session_id))

    def extend_session(self, session_id: uuid.UUID | str, seconds: int) -> Session:
        """Add `seconds` to an AVAILABLE session (capped at the profile's maxDuration)."""
        return self._run(self._extend_call(session_id, seconds))

    def retrieve_sessions(self, device: Device | Mapping[str, Any] | None = None) -> list[Session]:
        """A device's sessions (may be empty); with a three-legged token, its device's."""
        return self._run(self._retrieve_call(device))

    def list_profiles(
        self,
        name: str | None = None,
        status: ProfileStatus | str | None = None,
        device: Device | Mapping[str, Any] | None = None,
    ) -> list[QosProfile]:
        """QoS profiles, filtered by name, status or device (a documented catalogue: no call)."""
        local = self._catalogue(name, status)
        return local if local is not None else self._run(self._profiles_call(name, status, device))

    def get_profile(self, name: str) -> QosProfile:
        """A QoS profile by name."""
        return self._run(self._profile_call(name))

    def assign_qos(
        self, device: Device | Mapping[str, Any] | None, qos_profile: str | None = None, **fields: Any
    ) -> Assignment:
        """Assign `qos_profile` to a device until revoked (QoS Provisioning); `sink=`, `sink_token=` as for sessions.

        `profile=` is another spelling of `qos_profile=`.
        """
        return self._run(self._assign_call(device, qos_profile, fields))

    def get_assignment(self, assignment_id: uuid.UUID | str) -> Assignment:
        """An assignment by id."""
        return self._run(self._assignment_call(assignment_id))

    def revoke_assignment(self, assignment_id: uuid.UUID | str) -> Assignment | None:
        """Revoke an assignment: its state while the revocation is under way (202), None once done (204)."""
        return self._run(self._revoke_call(assignment_id))

    def assignment_for(self, device: Device | Mapping[str, Any] | None = None) -> Assignment:
        """A device's assignment (NotFound when it has none); with a three-legged token, its device's."""
        return self._run(self._assignment_for_call(device))


class AsyncQodClient(_BaseClient[AsyncSession, AsyncAssignment]):
    """Asynchronous client; use as an async context manager or call `aclose()`."""

    _session_class = AsyncSession
    _assignment_class = AsyncAssignment

    def __init__(self, base_url: str, *, transport: httpx.AsyncBaseTransport | None = None, **kwargs: Any) -> None:
        super().__init__(base_url, **kwargs)
        self._http = httpx.AsyncClient(transport=transport, **self._http_options())

    async def aclose(self) -> None:
        """Close the connections."""
        await self._http.aclose()

    async def __aenter__(self) -> AsyncQodClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _run(self, call: _Call[T]) -> T:
        for attempt in range(self.max_retries + 1):
            try:
                response = await self._http.send(self._request(self._http, call))
            except httpx.TransportError as exc:
                raise _transport_error(exc, call) from None
            delay = self._retry_delay(response, attempt)
            if delay is None:
                break
            self._backing_off(response, delay)
            try:
                await asyncio.sleep(delay)
            finally:
                self._backing_off(None)
        return self._result(call, response)

    async def create_session(self, request: CreateSession | None = None, /, **fields: Any) -> AsyncSession:
        """Create a session from a `CreateSession` or its fields (see `create_request`)."""
        return await self._run(self._create_call(request, fields))

    async def get_session(self, session_id: uuid.UUID | str) -> AsyncSession:
        """A session by id."""
        return await self._run(self._get_call(session_id))

    async def delete_session(self, session_id: uuid.UUID | str) -> None:
        """Delete a session."""
        await self._run(self._delete_call(session_id))

    async def extend_session(self, session_id: uuid.UUID | str, seconds: int) -> AsyncSession:
        """Add `seconds` to an AVAILABLE session (capped at the profile's maxDuration)."""
        return await self._run(self._extend_call(session_id, seconds))

    async def retrieve_sessions(self, device: Device | Mapping[str, Any] | None = None) -> list[AsyncSession]:
        """A device's sessions (may be empty); with a three-legged token, its device's."""
        return await self._run(self._retrieve_call(device))

    async def list_profiles(
        self,
        name: str | None = None,
        status: ProfileStatus | str | None = None,
        device: Device | Mapping[str, Any] | None = None,
    ) -> list[QosProfile]:
        """QoS profiles, filtered by name, status or device (a documented catalogue: no call)."""
        local = self._catalogue(name, status)
        return local if local is not None else await self._run(self._profiles_call(name, status, device))

    async def get_profile(self, name: str) -> QosProfile:
        """A QoS profile by name."""
        return await self._run(self._profile_call(name))

    async def assign_qos(
        self, device: Device | Mapping[str, Any] | None, qos_profile: str | None = None, **fields: Any
    ) -> AsyncAssignment:
        """Assign `qos_profile` to a device until revoked (QoS Provisioning); `sink=`, `sink_token=` as for sessions.

        `profile=` is another spelling of `qos_profile=`.
        """
        return await self._run(self._assign_call(device, qos_profile, fields))

    async def get_assignment(self, assignment_id: uuid.UUID | str) -> AsyncAssignment:
        """An assignment by id."""
        return await self._run(self._assignment_call(assignment_id))

    async def revoke_assignment(self, assignment_id: uuid.UUID | str) -> AsyncAssignment | None:
        """Revoke an assignment: its state while the revocation is under way (202), None once done (204)."""
        return await self._run(self._revoke_call(assignment_id))

    async def assignment_for(self, device: Device | Mapping[str, Any] | None = None) -> AsyncAssignment:
        """A device's assignment (NotFound when it has none); with a three-legged token, its device's."""
        return await self._run(self._assignment_for_call(device))


# -- helpers ------------------------------------------------------------------------------------


def create_request(
    request: CreateSession | None = None,
    *,
    device: Device | Mapping[str, Any] | None = None,
    application_server: ApplicationServer | Mapping[str, Any] | str | Sequence[str] | None = None,
    qos_profile: str | None = None,
    duration: int | None = None,
    sink: str | Listener | None = None,
    sink_token: str | None = None,
    sink_token_expires: datetime | str | None = None,
    profile: str | None = None,
    **extra: Any,
) -> CreateSession:
    """A `CreateSession` from a model or from friendly fields.

    `application_server` may be an address string (IPv4 or IPv6, optionally with a mask), or
    (QoD 1.2) a list of up to 16 single addresses;
    `sink` a URL, or a `Listener` (its URL, and the credential it checks);
    `sink_token` becomes an ACCESSTOKEN bearer credential, valid until `sink_token_expires`
    (RFC 3339; two days from now by default); `profile` is another spelling of `qos_profile`.

    With a `request` too, the fields given replace its own (`create_session(request, duration=600)`
    re-runs a request with another duration).

    Raises InvalidRequest (a QodError and a ValueError) naming the keyword at fault and what it takes.
    """
    given = (device, application_server, qos_profile, duration, sink, sink_token, sink_token_expires, profile)
    if request is not None and not extra and all(value is None for value in given):
        return request
    no_unknown(extra, _SESSION_KEYWORDS, "create_session()")
    fields: dict[str, Any] = dict(request or {})
    fields.update(extra)
    application_server = _server_body(application_server)
    explicit = any(k in extra for k in ("sink_credential", "sinkCredential"))
    url, credential = sink_fields(sink, sink_token, sink_token_expires, credential=explicit)
    named = {
        "device": device,
        "application_server": application_server,
        "qos_profile": profile_keyword(qos_profile, profile),
        "duration": duration,
        "sink": url,
    }
    fields.update((name, value) for name, value in named.items() if value is not None)
    if credential is not None:
        fields["sink_credential"] = credential
    with checked():
        return CreateSession.model_validate({k: v for k, v in fields.items() if v is not None})


def _server_body(
    server: ApplicationServer | Mapping[str, Any] | str | Sequence[str] | None,
) -> ApplicationServer | Mapping[str, Any] | str | Sequence[str] | None:
    """An address string as its IPv4 or IPv6 field, a list (QoD 1.2) as `ipAddresses`; anything else as given."""
    if isinstance(server, str):
        key = "ipv6Address" if ":" in server else "ipv4Address"
        return {key: server}
    if isinstance(server, list | tuple):  # QoD 1.2: a list of single addresses
        return {"ipAddresses": list(server)}
    return server


def _headers(token: str | None, api_key: str | None, api_host: str | None) -> dict[str, str]:
    """Every request's headers: JSON, qodlab's user agent, and a bearer token or a RapidAPI key (with its host)."""
    headers = {"Accept": "application/json", "User-Agent": f"qodlab/{__version__}"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if api_key:  # RapidAPI: the gateway routes and authorises on the API's host, not its own
        headers["X-RapidAPI-Key"] = api_key
        headers["X-RapidAPI-Host"] = api_host or NAC_API_HOST
    return headers


def _device(device: Device | Mapping[str, Any]) -> Device:
    if isinstance(device, Device):
        return device
    with checked("device"):
        return Device.model_validate(dict(device))


def _status(status: ProfileStatus | str) -> ProfileStatus:
    try:
        return ProfileStatus(status)
    except ValueError:
        msg = f"status: {status!r} is not a profile status (status takes ACTIVE, INACTIVE or DEPRECATED)"
        raise InvalidRequest(msg, "status") from None


def _keywords(model: type[CreateSession | CreateAssignment], *friendly: str) -> frozenset[str]:
    """What a call takes: its friendly keywords, and the model's fields by name and by wire name."""
    names = {alias for field in model.model_fields.values() if (alias := field.alias)}
    return frozenset({*friendly, *model.model_fields, *names})


_SESSION_KEYWORDS = _keywords(CreateSession, "sink_token", "sink_token_expires", "profile")
_ASSIGNMENT_KEYWORDS = _keywords(CreateAssignment, "sink_token", "sink_token_expires", "profile")


def _sid(session_id: uuid.UUID | str) -> str:
    return str(session_id)


_NEEDS = ("key", "api_host", "client_id", "client_secret", "login_hint", "purpose")


def _preset_args(name: str, needs: Mapping[str, Any]) -> dict[str, Any]:
    """A client's arguments for a preset: its URL, release, auth flow and catalogue."""
    from .auth import Ciba, ClientCredentials

    preset = PRESETS.get(name)
    if preset is None:
        msg = f"unknown provider {name!r}: one of {', '.join(PRESETS)}"
        raise InvalidRequest(msg, "name")
    given = {k: v for k, v in needs.items() if v is not None}
    if preset.auth == "rapidapi-key":
        given.setdefault("key", os.environ.get("NAC_TOKEN"))
    missing = [need for need in preset.needs if not given.get(need)]
    if missing:
        hint = " (or set NAC_TOKEN)" if "key" in missing else ""
        msg = f"{preset.title} needs {', '.join(f'{m}=...' for m in missing)}{hint}"
        raise InvalidRequest(msg, missing[0])
    args: dict[str, Any] = {"base_url": preset.base_url, "release": preset.release, "profiles": preset.profiles}
    if preset.qod_path:
        args["qod_path"] = preset.qod_path
    if preset.auth == "rapidapi-key":
        args.update(api_key=given["key"], api_host=given.get("api_host") or NAC_API_HOST)
    else:
        flow = {"client_id": given["client_id"], "client_secret": given["client_secret"], "token_url": preset.token_url}
        if preset.auth == "ciba":
            args["auth"] = Ciba(
                login_hint=given["login_hint"],
                scopes=(given["purpose"],),
                backchannel_url=preset.backchannel_url,
                **flow,
            )
        else:
            args["auth"] = ClientCredentials(scopes=(), **flow)
    return args


def _needs_apart(kwargs: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """What a preset needs (`key`, `client_id`, ...), and the other arguments."""
    return {k: v for k, v in kwargs.items() if k in _NEEDS}, {k: v for k, v in kwargs.items() if k not in _NEEDS}


def _overridden(args: dict[str, Any], given: Mapping[str, Any]) -> dict[str, Any]:
    """A preset's arguments with those given instead (`api=`, the old name of `release=`, too)."""
    if "api" in given:
        args.pop("release", None)
    return {**args, **given}


def _parse_profiles(response: httpx.Response) -> list[QosProfile]:
    return [QosProfile.model_validate(p) for p in response.json()]


def _webhook_body(request: CreateSession) -> dict[str, Any]:
    """A 0.10 create body: the sink and its token as `webhook: {notificationUrl, notificationAuthToken}`."""
    body = to_wire(request)
    sink, credential = body.pop("sink", None), body.pop("sinkCredential", None)
    if sink is not None:
        body["webhook"] = {"notificationUrl": sink}
        if credential and credential.get("accessToken"):
            body["webhook"]["notificationAuthToken"] = credential["accessToken"]
    return body
