"""An httpx transport that records each request and answers it as a CAMARA QoD v1 provider would.

Shared by `record.py` (the official SDK, in its own environment) and tests/sandbox/test_nac.py (qodlab's
preset), so both flows meet the same answers and their requests can be compared field by field.
Nothing is sent anywhere.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

SESSION_ID = "3fa85f64-5717-4562-b3fc-2c963f66afa6"
STARTED = "2026-12-01T10:00:00Z"


class Recorder(httpx.MockTransport):
    """Records `(method, url, rapidapi headers, JSON body)` and answers with plausible bodies."""

    def __init__(self) -> None:
        super().__init__(self._answer)
        self.requests: list[dict[str, Any]] = []
        self._session: dict[str, Any] = {}

    def _answer(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else None
        self.requests.append(
            {
                "method": request.method,
                "url": str(request.url),
                "headers": {k: v for k, v in request.headers.items() if k.lower().startswith("x-rapidapi-")},
                "body": body,
            }
        )
        path = request.url.path
        if request.method == "DELETE":
            return httpx.Response(204)
        if path.endswith("/retrieve-sessions"):
            return httpx.Response(200, json=[self._session])
        if path.endswith("/extend"):
            self._session["duration"] += body["requestedAdditionalDuration"]
            return httpx.Response(200, json=self._session)
        if request.method == "POST":
            self._session = {k: v for k, v in body.items() if k != "sinkCredential"}
            self._session.update(
                sessionId=SESSION_ID, qosStatus="AVAILABLE", startedAt=STARTED, expiresAt="2026-12-01T11:00:00Z"
            )
            return httpx.Response(201, json=self._session)
        return httpx.Response(200, json=self._session)
