"""Forms that build requests: `DeviceForm` (a Device) and `SessionForm` (a CreateSession).

Validation comes from the models: each message stands beside the field it is about, and the
submit button stays disabled while anything is invalid.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import ipywidgets as w
from pydantic import ValidationError

from ..models import CreateSession, Device, PortsSpec, QosProfile
from ..notebook.workbench import ActionResult, Workbench

__all__ = ["DeviceForm", "SessionForm", "parse_ports"]

_LAYOUT = {"width": "340px"}
_STYLE = {"description_width": "150px"}
KINDS = {
    "phone number": "phoneNumber",
    "network access identifier": "networkAccessIdentifier",
    "IPv4 address": "ipv4Address",
    "IPv6 address": "ipv6Address",
}


def _text(description: str, value: str = "", placeholder: str = "", password: bool = False) -> w.Text:
    kind = w.Password if password else w.Text
    return kind(value=value, description=description, placeholder=placeholder, layout=_LAYOUT, style=_STYLE)


def _error_label() -> w.HTML:
    label = w.HTML("")
    label.add_class("qodlab-field-error")
    return label


def _show(label: w.HTML, message: str | None) -> None:
    label.value = f'<span style="color:var(--qodlab-error, #b3261e)">{html.escape(message)}</span>' if message else ""


def _refused(error: str) -> str:
    """An API error, as the form shows it below its buttons."""
    return f'<span style="color:var(--qodlab-error, #b3261e)">Refused: {html.escape(error)}</span>'


def _messages(exc: ValidationError) -> list[tuple[tuple[str, ...], str]]:
    """(location, message) per error, the message without pydantic's 'Value error, ' prefix."""
    return [
        (tuple(str(p) for p in error["loc"]), str(error["msg"]).removeprefix("Value error, ")) for error in exc.errors()
    ]


# How the form offers each of the sandbox's test devices (`GET /_sandbox/test-devices` behaviours).
TEST_DEVICE_LABELS = {
    "not_found": "an unknown device (404)",
    "not_applicable": "a device the service does not apply to (422)",
    "restricted": "the only device that may use {profiles}",
    "no_profiles": "a device offered no profile",
    "provisioning_fails": "a device whose provisioning fails",
    "slow_provisioning": "a device whose provisioning is slow",
}


def device_choice(entry: Mapping[str, Any]) -> str:
    """A test device's choice in the form (a `GET /_sandbox/test-devices` entry)."""
    label = TEST_DEVICE_LABELS.get(entry["behaviour"])
    if label is None:
        return str(entry["description"])
    return label.format(profiles=", ".join(entry.get("profiles", ())) or "some profiles")


# CAMARA error codes about the device, the profile or the duration: shown beside that field.
DEVICE_CODES = ("IDENTIFIER_NOT_FOUND", "SERVICE_NOT_APPLICABLE", "UNSUPPORTED_IDENTIFIER", "MISSING_IDENTIFIER")
FIELD_CODES = {
    "QUALITY_ON_DEMAND.QOS_PROFILE_NOT_APPLICABLE": "profile",
    "QOS_PROVISIONING.QOS_PROFILE_NOT_APPLICABLE": "profile",
    "QUALITY_ON_DEMAND.DURATION_OUT_OF_RANGE": "duration",
    "INVALID_SINK": "sink",
}


class DeviceForm(w.VBox):
    """Choose how to identify a device and fill it in; `.value` is a `Device` (None while invalid).

    `test_devices` (a sandbox's documented ones) are offered in a dropdown: one click fills the
    device in, so each answer a real network gives (404, 422, few profiles) can be met.
    """

    def __init__(self, test_devices: Sequence[Mapping[str, Any]] = (), **kwargs: Any) -> None:
        self.test_devices = list(test_devices)
        self.kind = w.Dropdown(
            options=list(KINDS), value="phone number", description="identify by", layout=_LAYOUT, style=_STYLE
        )
        self.phone = _text("phone number", "+36721601234567", "+36721601234567")
        self.nai = _text("network access id", "", "device@testcsp.net")
        self.public_address = _text("public address", "", "233.252.0.2")
        self.private_address = _text("private address", "", "192.0.2.25")
        self.public_port = _text("public port", "", "80")
        self.ipv6 = _text("IPv6 address", "", "2001:db8::1")
        self.errors = {name: _error_label() for name in ("phone", "nai", "ipv4", "public_port", "ipv6", "device")}
        self._groups = self._field_groups()
        self.fields = w.VBox([self._groups["phone number"]])
        self.test_device = w.Dropdown(
            options=[("your own device", -1)] + [(device_choice(d), i) for i, d in enumerate(self.test_devices)],
            value=-1,
            description="or try",
            layout=_LAYOUT,
            style=_STYLE,
        )
        self.test_device.add_class("qodlab-test-device")
        self.test_device.observe(self._chose_test_device, names="value")
        self.test_info = w.HTML("")
        shown = [self.test_device, self.test_info] if self.test_devices else []
        super().__init__([self.kind, self.fields, self.errors["device"], *shown], **kwargs)
        self.add_class("qodlab-device-form")
        self.value: Device | None = None
        self._listeners: list[Callable[[], object]] = []
        for field in (
            self.kind,
            self.phone,
            self.nai,
            self.public_address,
            self.private_address,
            self.public_port,
            self.ipv6,
        ):
            field.observe(self._changed, names="value")
        self.validate()

    def _field_groups(self) -> dict[str, w.VBox]:
        """Each way to identify a device: its fields and their error lines, shown one way at a time."""
        return {
            "phone number": w.VBox([self.phone, self.errors["phone"]]),
            "network access identifier": w.VBox([self.nai, self.errors["nai"]]),
            "IPv4 address": w.VBox(
                [
                    self.public_address,
                    self.private_address,
                    self.public_port,
                    self.errors["public_port"],
                    self.errors["ipv4"],
                ]
            ),
            "IPv6 address": w.VBox([self.ipv6, self.errors["ipv6"]]),
        }

    def on_change(self, callback: Callable[[], object]) -> None:
        """Call `callback()` after every validation."""
        self._listeners.append(callback)

    @property
    def valid(self) -> bool:
        """Whether `value` is a valid Device."""
        return self.value is not None

    def _chose_test_device(self, change: Any) -> None:
        if change["new"] < 0:
            self.test_info.value = ""
            return
        entry = self.test_devices[change["new"]]
        device = entry["device"]
        kind = next(label for label, wire in KINDS.items() if wire in device)
        self.kind.value = kind
        target = {"phoneNumber": self.phone, "networkAccessIdentifier": self.nai, "ipv6Address": self.ipv6}
        for wire, value in device.items():
            if wire in target:
                target[wire].value = value
        self.test_info.value = (
            f'<span style="color:var(--qodlab-muted, #595959)">{html.escape(entry["description"])}</span>'
        )

    def show_error(self, message: str | None) -> None:
        """Show an API error about the device beside its fields (None: clear it)."""
        _show(self.errors["device"], message)

    def _changed(self, change: Any) -> None:
        if change["owner"] is self.kind:
            self.fields.children = [self._groups[self.kind.value]]
        self.validate()

    def _data(self) -> dict[str, Any]:
        kind = KINDS[self.kind.value]
        if kind == "phoneNumber":
            return {kind: self.phone.value.strip()}
        if kind == "networkAccessIdentifier":
            return {kind: self.nai.value.strip()} if self.nai.value.strip() else {}
        if kind == "ipv6Address":
            return {kind: self.ipv6.value.strip()} if self.ipv6.value.strip() else {}
        ipv4: dict[str, Any] = {"publicAddress": self.public_address.value.strip()}
        if self.private_address.value.strip():
            ipv4["privateAddress"] = self.private_address.value.strip()
        if self.public_port.value.strip():
            ipv4["publicPort"] = self.public_port.value.strip()
        return {kind: ipv4}

    def validate(self) -> Device | None:
        """Re-check the fields; shows each message beside its field; returns the Device or None."""
        for label in self.errors.values():
            _show(label, None)
        try:
            self.value = Device.model_validate(self._data())
        except ValidationError as exc:
            self.value = None
            for loc, message in _messages(exc):
                _show(self.errors[self._field_for(loc)], message)
        for callback in list(self._listeners):
            callback()
        return self.value

    @staticmethod
    def _field_for(loc: tuple[str, ...]) -> str:
        if not loc:
            return "device"
        if loc[0] in ("phoneNumber", "phone_number"):
            return "phone"
        if loc[0] in ("networkAccessIdentifier", "network_access_identifier"):
            return "nai"
        if loc[0] in ("ipv6Address", "ipv6_address"):
            return "ipv6"
        if loc[-1] in ("publicPort", "public_port"):
            return "public_port"
        return "ipv4"


def parse_ports(text: str) -> PortsSpec | None:
    """`"80, 5000-5010"` as a PortsSpec (None for an empty field); raises ValueError naming what is wrong."""
    ports: list[int] = []
    ranges: list[dict[str, int]] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        try:
            if "-" in part:
                low, high = (int(x) for x in part.split("-", 1))
                ranges.append({"from": low, "to": high})
            else:
                ports.append(int(part))
        except ValueError:
            msg = f"{part!r} is not a port or a range like 5000-5010"
            raise ValueError(msg) from None
    if not ports and not ranges:
        return None
    try:
        return PortsSpec.model_validate({"ports": ports or None, "ranges": ranges or None})
    except ValidationError as exc:
        raise ValueError("; ".join(m for _, m in _messages(exc))) from None


def _ports_of(spec: PortsSpec | None) -> set[int]:
    """Every port a spec names directly, and its ranges' ends."""
    if spec is None:
        return set()
    return set(spec.ports or ()) | {end for r in spec.ranges or () for end in (r.from_, r.to)}


def profile_label(profile: QosProfile) -> str:
    """`QOS_L: 20 Mbps down, 1 s to 12 h`."""
    parts = [profile.name]
    if profile.target_min_downstream_rate is not None:
        rate = profile.target_min_downstream_rate
        parts.append(f": {rate.value} {rate.unit.value} down")
    if profile.min_duration is not None and profile.max_duration is not None:
        parts.append(f", {_duration(profile.min_duration.seconds)} to {_duration(profile.max_duration.seconds)}")
    if profile.status.value != "ACTIVE":
        parts.append(f" ({profile.status.value})")
    return "".join(parts)


def _duration(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)} {unit}"
    return f"{seconds:g} s"


class SessionForm(w.VBox):
    """A device, a profile, an application server, ports, a duration and a notification target.

    Create calls the workbench and shows the created session, or the API error's code and message.
    """

    def __init__(
        self, workbench: Workbench, on_created: Callable[[ActionResult], None] | None = None, **kwargs: Any
    ) -> None:
        self.workbench = workbench
        self.on_created = on_created
        # QoS Provisioning beside sessions, where the API has it: a profile until revoked, no duration
        self.what = w.ToggleButtons(
            options=[("QoS session", "session"), ("QoS assignment (until revoked)", "assignment")],
            value="session",
            style={"button_width": "220px"},
        )
        self.what.add_class("qodlab-what")
        self.what.layout.display = None if workbench.client.provisioning_url else "none"
        self.device = DeviceForm(workbench.test_devices())
        if workbench.client.three_legged:  # the access token names the device: nothing to fill in
            self.device.layout.display = "none"
        unreachable = None if workbench.profiles else workbench.try_load_profiles()
        self.unreachable = unreachable
        """Why the profiles could not be loaded (a wrong key, no network), or None."""
        self._profile_fields(workbench)
        self._server_fields(workbench)
        self._notification_fields(workbench)
        names = ("server", "device_ports", "server_ports", "duration", "sink", "profile")
        self.errors = {name: _error_label() for name in names}
        self._buttons()
        super().__init__(self._children(), **kwargs)
        self.add_class("qodlab-session-form")
        self.request: CreateSession | None = None
        self._observe_fields()
        self._bound_duration()
        self.validate()
        if unreachable is not None:
            self.result.value = _refused(f"Could not load the QoS profiles: {unreachable}")

    def _profile_fields(self, workbench: Workbench) -> None:
        """The profile dropdown (QOS_L chosen where offered) and where the profiles come from."""
        profiles = workbench.profiles
        self.offered: list[QosProfile] = list(profiles)
        """The profiles the dropdown offers: the catalogue, plus those restricted to a chosen test device."""
        self.profile = w.Dropdown(
            options=[(profile_label(p), p.name) for p in profiles],
            description="QoS profile",
            layout={"width": "420px"},
            style=_STYLE,
        )
        if any(p.name == "QOS_L" for p in profiles):
            self.profile.value = "QOS_L"
        self.profile_source = w.HTML(
            f'<span style="color:var(--qodlab-muted, #595959)">'
            f"profiles: {html.escape(workbench.client.profiles_source)}</span>"
        )

    def _server_fields(self, workbench: Workbench) -> None:
        """The application server (addresses, or a list where the release takes one), the ports, the duration."""
        self.server_ipv4 = _text("server IPv4", "233.252.0.2", "233.252.0.2 or 198.51.100.0/24")
        self.server_ipv6 = _text("server IPv6", "", "2001:db8::/64")
        self.release = workbench.client.release  # what it can say: an address list, ports from 1, PRIVATE_KEY_JWT
        self.server_list = _text("or addresses", "", "233.252.0.2, 2001:db8::1 (up to 16)")
        self.server_list.layout.display = None if self.release.address_list else "none"
        self.device_ports = _text("device ports", "", "80, 5000-5010")
        self.server_ports = _text("server ports", "", "443")
        self.duration = w.BoundedIntText(
            value=600, min=1, max=86400, description="duration (s)", layout=_LAYOUT, style=_STYLE
        )

    def _notification_fields(self, workbench: Workbench) -> None:
        """The sink, its token, and the credential type where the workbench offers more than one."""
        sink, token = workbench.sink or ("", "")
        self.sink = _text("notification URL", sink, "https://example.com/qod")
        self.token = _text("notification token", token, password=True)
        kinds = workbench.credential_types
        self.credential = w.Dropdown(
            options=list(kinds), value=kinds[0], description="auth", layout=_LAYOUT, style=_STYLE
        )
        self.credential.layout.display = None if len(kinds) > 1 else "none"

    def _buttons(self) -> None:
        """Create and Find, and the line under them that shows the outcome."""
        self.create = w.Button(description="Create session", button_style="primary", icon="play")
        self.create.add_class("qodlab-create")
        self.find = w.Button(description="Find its sessions", icon="search", tooltip="this device's sessions")
        self.find.add_class("qodlab-find")
        self.result = w.HTML("")
        self.result.add_class("qodlab-create-result")

    def _children(self) -> list[w.Widget]:
        """The form top to bottom, each field followed by its error line."""
        return [
            w.HTML("<b>New QoS session</b>"),
            self.what,
            self.device,
            self.profile,
            self.errors["profile"],
            self.profile_source,
            self.server_ipv4,
            self.server_ipv6,
            self.server_list,
            self.errors["server"],
            self.device_ports,
            self.errors["device_ports"],
            self.server_ports,
            self.errors["server_ports"],
            self.duration,
            self.errors["duration"],
            self.sink,
            self.errors["sink"],
            self.credential,
            self.token,
            w.HBox([self.create, self.find]),
            self.result,
        ]

    def _observe_fields(self) -> None:
        """Validate on every change; the kind of request, the profile and a test device reshape the form."""
        self.device.on_change(self.validate)
        for field in (
            self.profile,
            self.server_ipv4,
            self.server_ipv6,
            self.device_ports,
            self.server_ports,
            self.duration,
            self.sink,
            self.token,
            self.server_list,
            self.credential,
        ):
            field.observe(lambda _: self.validate(), names="value")
        self.what.observe(lambda _: self._show_fields(), names="value")
        self.profile.observe(lambda _: self._bound_duration(), names="value")
        self.device.test_device.observe(self._offer_restricted, names="value")
        self.create.on_click(lambda _: self.submit())
        self.find.on_click(lambda _: self.find_sessions())

    def _show_fields(self) -> None:
        """An assignment has no duration, server or ports: only the device and the profile."""
        hidden = "none" if self.what.value == "assignment" else None
        for field in (self.server_ipv4, self.server_ipv6, self.device_ports, self.server_ports, self.duration):
            field.layout.display = hidden
        self.server_list.layout.display = hidden if self.release.address_list else "none"
        self.create.description = "Assign profile" if self.what.value == "assignment" else "Create session"
        self.validate()

    def _selected(self) -> QosProfile | None:
        return next((p for p in self.offered if p.name == self.profile.value), None)

    def _offer_restricted(self, change: Any) -> None:
        """A test device some profiles are restricted to: offer them too, chosen (only it may use them)."""
        entry = self.device.test_devices[change["new"]] if change["new"] >= 0 else {}
        known = {p.name for p in self.workbench.profiles}
        found = self.workbench.profiles_for(entry["device"]) if entry.get("profiles") else []
        extra = [p for p in found if p.name not in known]  # listed for this device alone
        self.offered = [*self.workbench.profiles, *extra]
        chosen = extra[0].name if extra else self.profile.value
        self.profile.options = [(profile_label(p), p.name) for p in self.offered]
        if chosen in {p.name for p in self.offered}:
            self.profile.value = chosen

    def _bound_duration(self) -> None:
        profile = self._selected()
        if profile is None:
            return
        low = int(profile.min_duration.seconds) if profile.min_duration else 1
        high = int(profile.max_duration.seconds) if profile.max_duration else 86400
        self.duration.min, self.duration.max = max(1, low), max(1, high)
        self.duration.description = f"duration (s, ≤{high})"

    def validate(self) -> CreateSession | None:
        """Re-check every field; returns the request or None, and enables Create accordingly."""
        for label in self.errors.values():
            _show(label, None)
        self.request = None
        from_token = self.workbench.client.three_legged  # the access token names the device
        ports, ports_ok = self._ports()
        ok = (from_token or self.device.valid) and ports_ok
        data: dict[str, Any] = {
            "device": None if from_token else self.device.value,
            "applicationServer": self._server(),
            "qosProfile": self.profile.value,
            "duration": self.duration.value,
            "devicePorts": ports.get("device_ports"),
            "applicationServerPorts": ports.get("server_ports"),
            **self._notification(),
        }
        if ok:
            try:
                self.request = CreateSession.model_validate({k: v for k, v in data.items() if v is not None})
            except ValidationError as exc:
                self._show_invalid(exc)
        self.create.disabled = self.request is None
        self.find.disabled = self.device.value is None and not from_token
        return self.request

    def _ports(self) -> tuple[dict[str, PortsSpec | None], bool]:
        """The device's and the server's ports as parsed, and whether both parsed (each error shown)."""
        ports: dict[str, PortsSpec | None] = {}
        ok = True
        for name, field in (("device_ports", self.device_ports), ("server_ports", self.server_ports)):
            try:
                ports[name] = parse_ports(field.value)
                if self.release.ports_from_one and 0 in _ports_of(ports[name]):
                    raise ValueError(f"ports start at 1 in QoD {self.release.name}")
            except ValueError as exc:
                _show(self.errors[name], str(exc))
                ok = False
        return ports, ok

    def _server(self) -> dict[str, Any]:
        """The application server as the request says it: the addresses given, and the list if any."""
        server: dict[str, Any] = {
            k: v
            for k, v in (
                ("ipv4Address", self.server_ipv4.value.strip()),
                ("ipv6Address", self.server_ipv6.value.strip()),
            )
            if v
        }
        listed = [a.strip() for a in self.server_list.value.split(",") if a.strip()]
        if listed:
            server["ipAddresses"] = listed
        return server

    def _notification(self) -> dict[str, Any]:
        """The sink and its credential, where a sink is given (nothing otherwise)."""
        data: dict[str, Any] = {}
        if self.sink.value.strip():
            data["sink"] = self.sink.value.strip()
            if self.credential.value == "PRIVATE_KEY_JWT":
                data["sinkCredential"] = self.workbench.private_key_jwt()
            elif self.token.value:
                data["sinkCredential"] = {
                    "credentialType": "ACCESSTOKEN",
                    "accessToken": self.token.value,
                    "accessTokenType": "bearer",
                }
        return data

    def _show_invalid(self, exc: ValidationError) -> None:
        """Each validation message under the field it is about (the server's where none fits)."""
        fields = {"applicationServer": "server", "duration": "duration", "sink": "sink", "qosProfile": "profile"}
        for loc, message in _messages(exc):
            field = fields.get(loc[0] if loc else "", "server")
            if field == "profile" and self.profile.value is None:  # an empty list: say why, not "Field required"
                message = f"no profile to choose: {self.unreachable or 'this API offers none'}"
            _show(self.errors[field], message)

    def submit(self) -> ActionResult | None:
        """Create the session (what the button does); shows the outcome below the button."""
        if self.validate() is None:
            return None
        self.create.disabled = True
        try:
            if self.what.value == "assignment":
                device = None if self.workbench.client.three_legged else self.device.value
                outcome = self.workbench.assign(device, str(self.profile.value))
            else:
                outcome = self.workbench.create(self.request)  # type: ignore[arg-type]
        finally:
            self.create.disabled = False
        self._beside(outcome)
        if outcome.error:
            self.result.value = _refused(outcome.error)
        elif outcome.session is not None:
            s = outcome.session
            what = "until revoked" if self.what.value == "assignment" else f"{s.duration} s"
            self.result.value = (
                f'<span style="color:var(--qodlab-ok, #1b6e20)">Created {s.session_id} '
                f"({s.qos_profile}, {what}): {s.qos_status.value}</span>"
            )
            if outcome.note:  # e.g. sent again without a sink: the API delivers no notifications
                self.result.value += (
                    f'<br><span style="color:var(--qodlab-muted, #595959)">{html.escape(outcome.note)}</span>'
                )
                self.sink.value = self.token.value = ""  # what the API refuses is not offered again
        if self.on_created is not None:
            self.on_created(outcome)
        return outcome

    def _beside(self, outcome: ActionResult) -> None:
        """Put an API error about one field beside that field too (the device's, the profile's, ...)."""
        self.device.show_error(outcome.error if outcome.code in DEVICE_CODES else None)
        field = FIELD_CODES.get(outcome.code or "")
        if field is not None:
            _show(self.errors[field], outcome.error)

    def find_sessions(self) -> ActionResult | None:
        """Find the device's sessions (what Find does); the sessions panel then follows them."""
        device = self.device.value
        if device is None and not self.workbench.client.three_legged:
            return None
        outcome = self.workbench.retrieve(device)
        self._beside(outcome)
        if outcome.error:
            self.result.value = _refused(outcome.error)
        else:
            found = ", ".join(f"{s.session_id!s:.8} ({s.qos_status.value})" for s in outcome.found)
            self.result.value = f"This device has {len(outcome.found)} session(s){': ' + found if found else ''}."
        if self.on_created is not None:
            self.on_created(outcome)
        return outcome
