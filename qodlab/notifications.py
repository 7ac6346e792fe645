"""QoS status notifications: every shape a provider sends, built and parsed.

`parse_notification(body)` turns any known shape into one `StatusEvent`;
`build_notification(shape, ...)` makes a body of a given shape (the sandbox's sender, tests).

| shape          | what it is                                                        |
|----------------|-------------------------------------------------------------------|
| cloudevent-v1  | CAMARA v1.x CloudEvent (`...quality-on-demand.v1.qos-status-changed`) |
| cloudevent-v0  | CAMARA v0.10 / v0.11 CloudEvent                                    |
| nac-hybrid     | Network as Code: CloudEvent fields plus an `event{}` block         |
| event-v0.9     | CAMARA v0.9: `event{eventId, eventType, eventTime, eventDetail}`    |
| qos-provisioning | QoS Provisioning CloudEvent (`...qos-provisioning.v0.status-changed`): an assignment's |
| client         | not a notification: recorded by qodlab when its client creates a session |
| poll           | not a notification: a change qodlab's `Watcher` saw by polling the API   |
| poll-assignment | not a notification: an assignment's change a `Watcher` saw by polling     |

The Content-Type each release's providers send with is in its row of `qodlab.apis.RELEASES`
(`notification_content_type`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, get_args

from .models import QosStatus, StatusInfo

__all__ = [
    "NOTIFICATION_SHAPES",
    "SHAPES",
    "NotificationError",
    "Shape",
    "StatusEvent",
    "build_notification",
    "content_type",
    "parse_notification",
]

Shape = Literal[
    "cloudevent-v1",
    "cloudevent-v0",
    "nac-hybrid",
    "event-v0.9",
    "client",
    "poll",
    "qos-provisioning",
    "poll-assignment",
]
SHAPES: tuple[Shape, ...] = get_args(Shape)
ASSIGNMENT_SHAPES: tuple[Shape, ...] = ("qos-provisioning", "poll-assignment")
"""The shapes of an assignment's events (QoS Provisioning): the event log's `kind` says so."""
POLL_SHAPES: tuple[Shape, ...] = ("poll", "poll-assignment")
"""The shapes of what a Watcher saw by polling (not notified)."""
"""Every shape; `client` marks what qodlab's own client recorded (a session it created, REQUESTED),
`poll` what its `Watcher` saw by polling."""
NOTIFICATION_SHAPES: tuple[Shape, ...] = SHAPES[:4]
"""The shapes providers send."""

TYPE_V1 = "org.camaraproject.quality-on-demand.v1.qos-status-changed"
TYPE_PROVISIONING = "org.camaraproject.qos-provisioning.v0.status-changed"
"""QoS Provisioning's CloudEvent: `data: {assignmentId, status, statusInfo?}` (the event's session is an assignment)."""
TYPES_V0 = (
    "org.camaraproject.quality-on-demand.v0.qos-status-changed",  # v0.11
    "org.camaraproject.qod.v0.qos-status-changed",  # v0.10
)
EVENT_TYPE = "QOS_STATUS_CHANGED"


class NotificationError(ValueError):
    """A body that is not a QoS status notification; `.status` is 400 or 422."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True, slots=True)
class StatusEvent:
    """One status change, whatever shape it came in."""

    event_id: str
    session_id: str
    qos_status: QosStatus
    status_info: StatusInfo | None
    event_time: datetime | None
    type: str
    source: str
    shape: Shape
    raw: dict[str, Any]
    received_at: datetime | None = None
    """When the listener accepted it (set by the event log)."""


def content_type(shape: Shape) -> str:
    """The Content-Type a provider sends a body of this shape with."""
    return "application/json" if shape == "event-v0.9" else "application/cloudevents+json"


def build_notification(
    shape: Shape,
    *,
    event_id: str,
    session_id: str,
    qos_status: QosStatus | str,
    status_info: StatusInfo | str | None = None,
    time: str,
    source: str = "urn:qodlab:sandbox",
) -> dict[str, Any]:
    """A notification body of `shape` (`time` is an RFC 3339 string)."""
    detail: dict[str, Any] = {"sessionId": session_id, "qosStatus": str(qos_status)}
    if status_info is not None:
        detail["statusInfo"] = str(status_info)
    if shape == "qos-provisioning":  # 0.4.0-rc.1's `status` (0.3.0's schema said qosStatus by mistake)
        data = {"assignmentId": session_id, "status": str(qos_status)}
        if status_info is not None:
            data["statusInfo"] = str(status_info)
        return {
            "id": event_id,
            "source": source,
            "type": TYPE_PROVISIONING,
            "specversion": "1.0",
            "datacontenttype": "application/json",
            "time": time,
            "data": data,
        }
    if shape == "event-v0.9":
        return {
            "event": {"eventId": event_id, "eventType": EVENT_TYPE, "eventTime": time, "eventDetail": detail},
        }
    body: dict[str, Any] = {
        "id": event_id,
        "source": source,
        "type": TYPE_V1 if shape == "cloudevent-v1" else TYPES_V0[0],
        "specversion": "1.0",
        "datacontenttype": "application/json",
        "time": time,
        "data": detail,
    }
    if shape == "nac-hybrid":
        body["event"] = {"eventType": EVENT_TYPE, "eventTime": time, "eventDetail": dict(detail)}
    return body


def parse_notification(body: Any, received_at: datetime | None = None) -> StatusEvent:
    """Normalise a decoded JSON body; raises NotificationError naming what is wrong."""
    if not isinstance(body, dict):
        raise NotificationError(400, f"a notification is a JSON object, got {type(body).__name__}")
    event = body.get("event")
    is_cloud_event = "specversion" in body or "type" in body
    if isinstance(event, dict) and not is_cloud_event:
        return _with_received(_parse_v09(body, event), received_at)
    if not is_cloud_event:
        msg = "not a QoS notification: no CloudEvent fields (specversion, type) and no 'event' object"
        raise NotificationError(422, msg)
    return _with_received(_parse_cloud_event(body, event if isinstance(event, dict) else None), received_at)


def _with_received(event: StatusEvent, received_at: datetime | None) -> StatusEvent:
    """The event with its arrival time set (no copy when there is none to set)."""
    if received_at is not None:
        object.__setattr__(event, "received_at", received_at)  # still being built: no one else holds it
    return event


def _parse_cloud_event(body: dict[str, Any], event: dict[str, Any] | None) -> StatusEvent:
    kind = body.get("type")
    if kind == TYPE_PROVISIONING:
        return _parse_provisioning(body)
    if kind == TYPE_V1:
        shape: Shape = "cloudevent-v1"
    elif kind in TYPES_V0:
        shape = "cloudevent-v0"
    else:
        raise NotificationError(422, f"type: {kind!r} is not a QoS status-changed event type")
    if event is not None:
        shape = "nac-hybrid"
    data = body.get("data")
    if not isinstance(data, dict) and event is not None:
        data = event.get("eventDetail")
    data, event_id = _data_and_id(body, data, "a QoS status event")
    when = body.get("time") or (event or {}).get("eventTime")
    return _event(event_id, data, when, str(kind), str(body.get("source") or ""), shape, body, "data")


def _data_and_id(body: dict[str, Any], data: Any, what: str) -> tuple[dict[str, Any], str]:
    """A CloudEvent's `data` object and `id`, or NotificationError naming what is missing."""
    if not isinstance(data, dict):
        raise NotificationError(422, f"data: {what} needs a 'data' object")
    event_id = body.get("id")
    if not isinstance(event_id, str) or not event_id:
        raise NotificationError(422, "id: a CloudEvent needs a non-empty string 'id'")
    return data, event_id


def _parse_provisioning(body: dict[str, Any]) -> StatusEvent:
    """A QoS Provisioning event: its assignment is the event's session; `status`, or 0.3.0's `qosStatus`."""
    data, event_id = _data_and_id(body, body.get("data"), "a QoS Provisioning event")
    status = data.get("status", data.get("qosStatus"))
    detail = {"sessionId": data.get("assignmentId"), "qosStatus": status, "statusInfo": data.get("statusInfo")}
    detail = {k: v for k, v in detail.items() if v is not None}
    return _event(
        event_id,
        detail,
        body.get("time"),
        TYPE_PROVISIONING,
        str(body.get("source") or ""),
        "qos-provisioning",
        body,
        "data",
    )


def _parse_v09(body: dict[str, Any], event: dict[str, Any]) -> StatusEvent:
    if event.get("eventType") not in (EVENT_TYPE, None):
        raise NotificationError(422, f"event.eventType: {event.get('eventType')!r} is not {EVENT_TYPE}")
    detail = event.get("eventDetail")
    if not isinstance(detail, dict):
        raise NotificationError(422, "event.eventDetail: a v0.9 event needs an 'eventDetail' object")
    event_id = event.get("eventId")
    if not isinstance(event_id, str) or not event_id:
        # Without an id, a retry is recognised by its content.
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
        event_id = "sha256:" + hashlib.sha256(canonical).hexdigest()[:32]
    return _event(event_id, detail, event.get("eventTime"), EVENT_TYPE, "", "event-v0.9", body, "event.eventDetail")


def _event(
    event_id: str,
    detail: dict[str, Any],
    when: Any,
    kind: str,
    source: str,
    shape: Shape,
    raw: dict[str, Any],
    where: str,
) -> StatusEvent:
    session_id = detail.get("sessionId")
    if not isinstance(session_id, str) or not session_id:
        raise NotificationError(422, f"{where}.sessionId: missing or not a string")
    status = _STATUSES.get(str(detail.get("qosStatus")))  # a dict, not QosStatus(...): the hot path
    if status is None:
        msg = f"{where}.qosStatus: {detail.get('qosStatus')!r} is not one of {', '.join(QosStatus)}"
        raise NotificationError(422, msg)
    info = detail.get("statusInfo")
    status_info = _INFOS.get(info) if isinstance(info, str) else None
    if info is not None and status_info is None:
        msg = f"{where}.statusInfo: {info!r} is not one of {', '.join(StatusInfo)}"
        raise NotificationError(422, msg)
    return StatusEvent(
        event_id=event_id,
        session_id=session_id,
        qos_status=status,
        status_info=status_info,
        event_time=_time(when),
        type=kind,
        source=source,
        shape=shape,
        raw=raw,
    )


_STATUSES = {status.value: status for status in QosStatus}
_INFOS = {info.value: info for info in StatusInfo}


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise NotificationError(422, f"time: {value!r} is not an RFC 3339 timestamp") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
