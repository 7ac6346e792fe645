"""The Network as Code QoD flow for SDK 10.x (the generated `NetworkAsCodeApi`), run by tests/sandbox/test_nac.py.

Both of its QoD families: CAMARA v1 (`*_v1` methods, /quality-on-demand/v1) and /qod/v0.
argv: MODE (patch | base_url) SANDBOX_ROOT NOTIFICATION_URL NOTIFICATION_TOKEN
"""

import json
import sys

mode, root, notification_url, notification_token = sys.argv[1:5]
if mode == "patch":
    from qodlab.sandbox import use_with_network_as_code

    use_with_network_as_code(root)
    extra = {}
else:
    extra = {"base_url": root}

# --- the SDK reference's usage ---
from network_as_code import NetworkAsCodeApi  # noqa: E402

client = NetworkAsCodeApi(api_key="<value>", **extra)

v1 = client.qod.create_session_v1(
    device={"phone_number": "+36721601234567"},
    application_server={"ipv4address": "233.252.0.2"},
    qos_profile="QOS_L",
    duration=3600,
    sink=notification_url,
    sink_credential={
        "credential_type": "ACCESSTOKEN",
        "accessToken": notification_token,
        "accessTokenExpiresUtc": "2099-01-01T00:00:00Z",
        "accessTokenType": "bearer",
    },
)
fetched = client.qod.get_session_v1(v1.session_id)
extended = client.qod.extend_session_v1(v1.session_id, requested_additional_duration=600)
listed = client.qod.retrieve_sessions_v1(device={"phone_number": "+36721601234567"})
nobody = client.qod.retrieve_sessions_v1(device={"phone_number": "+3611111111"})
client.qod.delete_session_v1(v1.session_id)

v0 = client.qod.create_session(
    device={"phone_number": "+36721601234568"},
    application_server={"ipv4address": "233.252.0.2"},
    qos_profile="QOS_M",
    duration=600,
    webhook={"notification_url": notification_url, "notification_auth_token": f"Bearer {notification_token}"},
)
v0_fetched = client.qod.get_session(v0.session_id)
v0_extended = client.qod.extend_session(v0.session_id, requested_additional_duration=60)
v0_listed = client.qod.retrieve_sessions(device={"phone_number": "+36721601234568"})
client.qod.delete_session(v0.session_id)
# --- report for the test ---
print(
    json.dumps(
        {
            "v1": str(v1.session_id),
            "v1_status": str(fetched.qos_status),
            "v1_duration": extended.duration,
            "v1_listed": [str(s.session_id) for s in listed],
            "nobody": [str(s.session_id) for s in nobody],
            "v0": str(v0.session_id),
            "v0_status": str(v0_fetched.qos_status),
            "v0_duration": v0_extended.duration,
            "v0_listed": [str(s.session_id) for s in v0_listed],
            "v0_span": v0_fetched.expires_at - v0_fetched.started_at,
        }
    )
)
