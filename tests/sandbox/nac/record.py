"""The official SDK's QoD flow through tests/sandbox/nac/recorder.py; prints the requests it made, as JSON.

argv: KEY SINK SINK_TOKEN. Run by tests/sandbox/test_nac.py in an environment with network-as-code 8.0.0
or 10.0.0: create with a sink and token, get, retrieve by device, extend, delete.
"""

import importlib.metadata
import json
import sys

import httpx
from recorder import Recorder

key, sink, sink_token = sys.argv[1:4]
recorder = Recorder()
major = int(importlib.metadata.version("network-as-code").split(".")[0])
PHONE = "+36721601234567"
EXPIRES = "2099-01-01T00:00:00Z"

if major >= 10:
    from network_as_code import NetworkAsCodeApi

    # as the SDK reference shows it, with the documented rapidapi_host
    client = NetworkAsCodeApi(
        api_key=key, rapidapi_host="network-as-code.nokia.rapidapi.com", httpx_client=httpx.Client(transport=recorder)
    )
    created = client.qod.create_session_v1(
        device={"phone_number": PHONE},
        application_server={"ipv4address": "233.252.0.2"},
        qos_profile="QOS_L",
        duration=3600,
        sink=sink,
        sink_credential={
            "credential_type": "ACCESSTOKEN",
            "accessToken": sink_token,
            "accessTokenExpiresUtc": EXPIRES,
            "accessTokenType": "bearer",
        },
    )
    client.qod.get_session_v1(created.session_id)
    client.qod.retrieve_sessions_v1(device={"phone_number": PHONE})
    client.qod.extend_session_v1(created.session_id, requested_additional_duration=600)
    client.qod.delete_session_v1(created.session_id)
else:
    _init = httpx.Client.__init__

    def _recorded(self, *args, **kwargs):  # the classic SDK builds its own httpx.Client
        kwargs.setdefault("transport", recorder)
        _init(self, *args, **kwargs)

    httpx.Client.__init__ = _recorded
    import network_as_code as nac
    from network_as_code.models.device import AccessTokenCredential

    client = nac.NetworkAsCodeClient(token=key)
    device = client.devices.get(phone_number=PHONE)
    session = device.create_qod_session(
        service_ipv4="233.252.0.2",
        profile="QOS_L",
        duration=3600,
        sink=sink,
        sink_credential=AccessTokenCredential(
            access_token=sink_token, access_token_expires_utc=EXPIRES, access_token_type="bearer"
        ),
    )
    fetched = client.sessions.get(session.id)
    device.sessions()
    fetched.extend(600)
    session.delete()

print(json.dumps(recorder.requests))
