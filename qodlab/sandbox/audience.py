"""Who each of the sandbox's routes is for, read from the app's own routes: the one decision the middleware guards by.

Every route declares its audience when it is added (`Audiences.declare`):

- `api`: a caller with the API's credential (the key, an access token, a student's key or token), counted and
  rate limited by a classroom's gate: every QoD, Profiles and Provisioning route, the root release's
  `/retrieve-sessions` included.
- `control`: the sandbox's owner (its API key; a classroom's instructor): `/_sandbox/...`, `/_classroom/...`.
- `public`: anyone, by design: `/health`, `/docs`, the OpenID provider's discovery, keys and token endpoints
  (they check the client's credentials themselves), the keys that sign PRIVATE_KEY_JWT assertions.

A test checks that every route the app serves is declared, and walks every route of the app in every
mode (tests/security/test_route_walk.py), so a route added later cannot be forgotten. Before this, the guard
was a list of path prefixes, and the root release's `POST /retrieve-sessions` fell outside them (issue #32).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

from starlette.routing import BaseRoute, compile_path

__all__ = ["Audience", "Audiences", "Declared"]

Audience = Literal["api", "control", "public"]


@dataclass(frozen=True)
class Declared:
    """One route as declared: its full path, methods and audience."""

    path: str
    methods: frozenset[str]
    audience: Audience
    pattern: re.Pattern[str]


class Audiences:
    """Every route's audience, declared as the app adds it; `of(path)` answers for a request.

    Kept apart from the framework's route objects (FastAPI 0.16x includes routers lazily, without flattening
    their routes into the app), from the routes as each router holds them and the prefix it was included at.
    """

    def __init__(self) -> None:
        self._declared: list[Declared] = []

    def declare(self, routes: Sequence[BaseRoute], audience: Audience, prefix: str = "") -> None:
        """Routes (a router's, included at `prefix`; or the app's own) are for `audience`."""
        for route in routes:
            path = prefix + str(getattr(route, "path", ""))
            methods = frozenset(getattr(route, "methods", None) or {"GET"})
            self._declared.append(Declared(path, methods, audience, compile_path(path)[0]))

    def __iter__(self) -> Iterator[Declared]:
        return iter(self._declared)

    def of(self, path: str) -> Audience | None:
        """The audience of the route serving `path` (any method), or None where no declared route does."""
        for declared in self._declared:
            if declared.pattern.match(path):
                return declared.audience
        return None
