"""The Network as Code documentation's QoD sample, verbatim, for SDK 1.x-3.x (run by tests/sandbox/test_nac.py).

argv: MODE (patch | base_url) SANDBOX_URL NOTIFICATION_URL NOTIFICATION_TOKEN
"""

import json
import sys

from _target import client_kwargs

mode, sandbox_url, notification_url, notification_token = sys.argv[1:5]
extra = client_kwargs(mode, sandbox_url)

# --- from here on, the documentation's code ---
import network_as_code as nac  # noqa: E402
from network_as_code.models.device import DeviceIpv4Addr  # noqa: E402

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
    notification_url=notification_url,
    notification_auth_token=notification_token,
)

print(my_device.sessions())
# --- end of the documentation's code; report for the test ---
listed = my_device.sessions()
print(json.dumps({"session": my_session.id, "status": my_session.status, "listed": [s.id for s in listed]}))
my_session.delete()
print(json.dumps({"after_delete": [s.id for s in my_device.sessions()]}))
