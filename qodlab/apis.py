"""The APIs qodlab serves and speaks: one row per release, read by the sandbox, the client and the widgets.

A row is a release as a whole: its Quality on Demand, QoS Profiles and QoS Provisioning base paths,
the OpenAPI files its requests are checked against (under `qodlab/sandbox/contract/`), the error
codes it words differently from the engine, and what it can say. The sandbox serves every row
(`qodlab.sandbox.api`, `nac_api`), the client speaks every row marked `spoken`
(`QodClient(url, release=...)`), and a form offers what the client's row can say (an address list,
ports from 1, PRIVATE_KEY_JWT). A new release is one more row.

    >>> [release.name for release in RELEASES]
    ['1.1.0', '1.2.0-rc.3', '0.10', 'nac-root']

`table()` is the table as the README's Architecture section shows it (a test holds the two equal).
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["RELEASES", "Release", "default", "release", "serving", "spoken", "table"]

TYPE_V1 = "org.camaraproject.quality-on-demand.v1.qos-status-changed"
CLOUDEVENTS = "application/cloudevents+json"  # CloudEvents' structured JSON format, CAMARA's since QoD 0.10
# QoS Provisioning (0.3.0 and 0.4.0-rc.1) names its own 422 for a profile it cannot assign
# (createQosAssignment 422.1).
PROVISIONING_CODES = {"QUALITY_ON_DEMAND.QOS_PROFILE_NOT_APPLICABLE": "QOS_PROVISIONING.QOS_PROFILE_NOT_APPLICABLE"}


@dataclass(frozen=True)
class Release:
    """One release of the QoD family: where its APIs live, what checks them, how it words errors, what it can say."""

    name: str
    camara: str  # the CAMARA release (or the SDKs) it comes from
    qod_path: str  # base path of Quality on Demand ("": the server's root)
    profiles_path: str | None  # base path of QoS Profiles; None: read under the QoD path (`GET /qos-profiles`)
    provisioning_path: str | None = None  # base path of QoS Provisioning of the same release, if any
    provisioning: str | None = None  # its QoS Provisioning version
    contracts: tuple[str, str, str | None] | None = None  # QoD, QoS Profiles, QoS Provisioning OpenAPI files
    codes: dict[str, str] = field(default_factory=dict)  # an engine error code -> this release's (QoD, Profiles)
    provisioning_codes: dict[str, str] = field(default_factory=dict)  # the same, for its QoS Provisioning
    strict: bool = False  # a request body with a property its schema does not declare is 400
    address_list: bool = False  # `applicationServer.ipAddresses`, a list of up to 16 addresses
    ports_from_one: bool = False  # port 0 is refused
    private_key_jwt: bool = False  # a sink credential may be PRIVATE_KEY_JWT (a session shows its `jwksUri`)
    webhook: bool = False  # a create says `webhook: {notificationUrl, notificationAuthToken}`, not `sink`
    nac: bool = False  # served by the Network as Code routers (`nac_api`): notified in the nac-hybrid shape
    default_duration: int | None = None  # seconds, where a create may leave the duration out
    notification_type: str | None = TYPE_V1  # the CloudEvent type of its notifications (None: not CAMARA's)
    # The Content-Type its providers POST notifications with: CloudEvents' JSON format since CAMARA QoD
    # 0.10 (Network as Code's own OpenAPI declares it for /qod/v0 and /quality-on-demand/v1 callbacks);
    # plain JSON before (CAMARA 0.8.1 / 0.9.0, and Network as Code's root release, SDK 1.x-3.x).
    notification_content_type: str = CLOUDEVENTS
    aliases: tuple[str, ...] = ()  # other spellings `release()` takes
    spoken: bool = True  # the client speaks it (the root release is the old SDKs' alone)

    @property
    def profiles_lookup(self) -> str:
        """`retrieve` (POST retrieve-qos-profiles, 1.x) or `list` (GET qos-profiles, 0.10)."""
        return "list" if self.profiles_path is None else "retrieve"

    @property
    def prefixes(self) -> tuple[str, ...]:
        """The path prefixes of its API requests (the root release's: `/sessions`)."""
        paths = (self.qod_path, self.profiles_path, self.provisioning_path)
        return tuple(path or "/sessions" for path in dict.fromkeys(paths) if path is not None)

    def code(self, path: str, code: str) -> str:
        """The error code this release gives on `path` for an engine error's `code`."""
        if self.provisioning_path is not None and path.startswith(f"{self.provisioning_path}/"):
            return self.provisioning_codes.get(code, code)
        return self.codes.get(code, code)


# CAMARA's r4.1 test definitions: a duration outside the profile's range is INVALID_ARGUMENT
# (createSession 400.9), and PLAIN or REFRESHTOKEN fail schema validation as INVALID_ARGUMENT (400.6).
_R41_CODES = {"QUALITY_ON_DEMAND.DURATION_OUT_OF_RANGE": "INVALID_ARGUMENT", "INVALID_CREDENTIAL": "INVALID_ARGUMENT"}

RELEASES: tuple[Release, ...] = (
    Release(
        "1.1.0",
        "r3.2",
        "/quality-on-demand/v1",
        "/qos-profiles/v1",
        "/qos-provisioning/v0.3",
        "0.3.0",
        contracts=("quality-on-demand.yaml", "qos-profiles.yaml", "qos-provisioning-0.3.yaml"),
        provisioning_codes=PROVISIONING_CODES,
        aliases=("v1", "1.1", "1"),
    ),
    Release(
        "1.2.0-rc.3",
        "r4.1",
        "/quality-on-demand/v1rc3",
        "/qos-profiles/v1rc3",
        "/qos-provisioning/v0.4rc1",
        "0.4.0-rc.1",
        contracts=("r4.1/quality-on-demand.yaml", "r4.1/qos-profiles.yaml", "r4.1/qos-provisioning.yaml"),
        codes=_R41_CODES,
        provisioning_codes=PROVISIONING_CODES,
        strict=True,
        address_list=True,
        ports_from_one=True,
        private_key_jwt=True,
        aliases=("v1rc3", "1.2"),
    ),
    # CAMARA 0.10: Telefonica's and Orange's public sandboxes and betas, and Network as Code SDK
    # 4.x-7.x (and 10.x's generated client) at /qod/v0
    Release(
        "0.10",
        "0.10; Network as Code SDK 4.x-7.x, 10.x",
        "/qod/v0",
        None,
        webhook=True,
        nac=True,
        notification_type="org.camaraproject.qod.v0.qos-status-changed",
        aliases=("v0.10", "0.10.1", "v0"),
    ),
    # Network as Code SDK 1.x-3.x: at the root, top-level notificationUrl, the duration optional
    Release(
        "nac-root",
        "Network as Code SDK 1.x-3.x",
        "",
        None,
        nac=True,
        default_duration=3600,
        notification_type=None,
        notification_content_type="application/json",
        spoken=False,
    ),
)
"""Every release, the first the default; tests add one by replacing this tuple (read at call time)."""


def default() -> Release:
    """The release a client speaks and the sandbox's own URLs name unless told otherwise: the first row."""
    return RELEASES[0]


def spoken() -> dict[str, Release]:
    """The releases the client speaks, by name."""
    return {r.name: r for r in RELEASES if r.spoken}


def release(name: str | Release) -> Release:
    """The release named `name` ("1.1.0", "0.10", or a spelling such as "v1", "v0.10"); ValueError if none."""
    if isinstance(name, Release):
        return name
    found = next((r for r in RELEASES if r.spoken and name in (r.name, *r.aliases)), None)
    if found is None:
        msg = f"unknown release {name!r}: one of {', '.join(spoken())}"
        raise ValueError(msg)
    return found


def serving(path: str) -> Release | None:
    """The release whose API `path` is (None: a path of no release's, or the root release's)."""
    return next((r for r in RELEASES if any(p and path.startswith(f"{p}/") for p in _paths(r))), None)


def _paths(r: Release) -> tuple[str | None, ...]:
    return (r.qod_path, r.profiles_path, r.provisioning_path)


def _flags(r: Release) -> str:
    flags = {
        "strict": r.strict,
        "address list": r.address_list,
        "ports from 1": r.ports_from_one,
        "PRIVATE_KEY_JWT": r.private_key_jwt,
        "`webhook: {...}`": r.webhook,
        "Network as Code routes": r.nac,
        f"duration optional ({r.default_duration} s)": r.default_duration is not None,
    }
    return ", ".join(name for name, on in flags.items() if on)


def profiles_under_qod(r: Release) -> str:
    """Where a release without a QoS Profiles path reads its profiles: 0.10 under its QoD path (`GET
    /qos-profiles`); the root release, whose create may leave the duration out, has none."""
    return "under QoD" if r.default_duration is None else "none"


def table() -> str:
    """The table of releases in Markdown, one row each (the README's Architecture section shows it)."""

    def codes(found: dict[str, str]) -> str:
        return "; ".join(f"{a} -> {b}" for a, b in found.items())

    rows = [
        (
            "release",
            "from",
            "QoD",
            "QoS Profiles",
            "QoS Provisioning",
            "contracts",
            "error codes",
            "can say",
            "notified as",
        ),
        *(
            (
                f"`{r.name}`",
                r.camara,
                f"`{r.qod_path or '/'}`",
                f"`{r.profiles_path}`" if r.profiles_path else profiles_under_qod(r),
                f"`{r.provisioning_path}` ({r.provisioning}{'; ' if r.provisioning_codes else ''}"
                f"{codes(r.provisioning_codes)})"
                if r.provisioning_path
                else "",
                ", ".join(f"`{c}`" for c in r.contracts if c) if r.contracts else "none (no nulls anywhere)",
                codes(r.codes),
                _flags(r),
                f"`{r.notification_content_type}`",
            )
            for r in RELEASES
        ),
    ]
    lines = ["| " + " | ".join(row) + " |" for row in rows]
    lines.insert(1, "|" + "|".join("---" for _ in rows[0]) + "|")
    return "\n".join(lines)
