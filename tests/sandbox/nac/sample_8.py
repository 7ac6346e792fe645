"""The Network as Code QoD flow for SDK 8.x (CAMARA v1 paths), run by tests/sandbox/test_nac.py.

argv: MODE (patch | base_url) QOS_URL_OR_ROOT NOTIFICATION_URL NOTIFICATION_TOKEN
"""

import json
import sys

from _target import client_kwargs

mode, sandbox_url, notification_url, notification_token = sys.argv[1:5]
extra = client_kwargs(mode, sandbox_url)

# --- the documentation's flow ---
import network_as_code as nac  # noqa: E402
from network_as_code.models.device import AccessTokenCredential, DeviceIpv4Addr  # noqa: E402

client = nac.NetworkAsCodeClient(token="<your-application-key-here>", **extra)

my_device = client.devices.get(
    "device@testcsp.net",
    ipv4_address=DeviceIpv4Addr(public_address="233.252.0.2", private_address="192.0.2.25", public_port=80),
    ipv6_address="2001:db8:1234:5678:9abc:def0:fedc:ba98",
    phone_number="36721601234567",
)

my_session = my_device.create_qod_session(
    service_ipv4="233.252.0.2",
    service_ipv6="2001:db8:1234:5678:9abc:def0:fedc:ba98",
    profile="QOS_L",
    duration=3600,
    sink=notification_url,
    sink_credential=AccessTokenCredential(
        access_token=notification_token,
        access_token_expires_utc="2099-01-01T00:00:00Z",
        access_token_type="bearer",
    ),
)

print(my_device.sessions())
fetched = client.sessions.get(my_session.id)
# --- end of the documentation's flow; report for the test ---
report = {
    "session": my_session.id,
    "status": my_session.status,
    "fetched": fetched.id,
    "listed": [s.id for s in my_device.sessions()],
}
fetched.extend(600)
report["extended_duration"] = fetched.duration
print(json.dumps(report))
my_session.delete()
second = my_device.create_qod_session(
    service_ipv4="233.252.0.2",
    profile="QOS_M",
    duration=600,
    sink=notification_url,
    sink_credential=AccessTokenCredential(
        access_token=notification_token,
        access_token_expires_utc="2099-01-01T00:00:00Z",
        access_token_type="bearer",
    ),
)
my_device.clear_sessions()
print(json.dumps({"second": second.id, "after_clear": [s.id for s in my_device.sessions()]}))
