"""The CAMARA contract, enforced: request bodies and path parameters checked against its OpenAPI files.

The sandbox's pydantic models say what a request means; the contract says what it may look like.
Pydantic is lenient where JSON Schema is not (it turns `"60"` or `true` into an int, a number into
a datetime, and takes `null` for any optional field), so every request to a CAMARA release is
first checked against that release's OpenAPI files (its row's `contracts` in `qodlab.apis.RELEASES`:
r3.2's and r4.1's, copied unmodified from CAMARA). A violation is a 400 INVALID_ARGUMENT naming
the field, never a 2xx; a `strict` release also refuses a property its schema does not declare.

Deliberate departures: a request through the Network as Code gateway (its SDK always sends
`X-RapidAPI-Key` or `X-RapidAPI-Host`) may give a phone number without the leading `+`, as that
documentation's samples do (the contract digest, section 3); outside strict mode an `http://`
sink is the engine's to judge (a listener on loopback has no certificate). The older Network as
Code releases (root, `/qod/v0`) have no schema here: they get `no_nulls`.

Two validators read the same files. jsonschema-rs answers "valid?" first: about 200 times faster
than the pure-Python jsonschema (a create's body: ~124 µs there, ~4 µs here with the same format
checks called back, measured side by side); the check had been 40% of a create's cost on the server. It knows no OpenAPI
`discriminator`, so its copy of the document spells each mapping out in plain JSON Schema
(`_spelled_out`), and it calls the same format checks. Only a body it refuses goes to jsonschema,
whose errors name the field; if jsonschema finds nothing wrong, the body passes (the two never
disagree on the tests' corpus, but the reference decides).
"""

from __future__ import annotations

import copy
import functools
import ipaddress
import re
import uuid
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema_rs
import yaml

from ... import apis
from ..engine import check_sink
from ..refusals import EngineError

__all__ = ["Api", "check", "contracts", "check_value", "load", "nac_gateway", "no_nulls", "undeclared"]

Api = str
"""A contract: the path of one of its OpenAPI files under this directory, as a release names it
(`qodlab.apis.Release.contracts`), e.g. `r4.1/quality-on-demand.yaml`."""
_HERE = Path(__file__).parent
_RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?([Zz]|[+-]\d\d:\d\d)$")
_GATEWAY_HEADERS = ("x-rapidapi-key", "x-rapidapi-host")
# CAMARA's more specific 400 codes, by the field the first violation is about.
_CODES = {
    ("sink",): "INVALID_SINK",
    ("sinkCredential", "credentialType"): "INVALID_CREDENTIAL",
    ("sinkCredential", "accessTokenType"): "INVALID_TOKEN",
}


def _is_ipv4(value: object) -> bool:
    return not isinstance(value, str) or bool(ipaddress.IPv4Address(value))


def _is_ipv6(value: object) -> bool:
    return not isinstance(value, str) or bool(ipaddress.IPv6Address(value))


def _is_uuid(value: object) -> bool:
    return not isinstance(value, str) or bool(uuid.UUID(value))


def _is_date_time(value: object) -> bool:
    """RFC 3339 with a time zone, as the contract requires."""
    return not isinstance(value, str) or (bool(_RFC3339.match(value)) and bool(datetime.fromisoformat(value)))


def _is_uri(value: object) -> bool:
    if not isinstance(value, str):
        return True
    parts = urlsplit(value)
    return bool(parts.scheme) and bool(parts.netloc or parts.path) and not any(c.isspace() for c in value)


@functools.cache
def _document(api: Api) -> dict[str, Any]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    document: dict[str, Any] = yaml.load((_HERE / api).read_text(), Loader=loader)
    return document


def _spelled_out(document: dict[str, Any]) -> dict[str, Any]:
    """A copy whose `discriminator`s are plain JSON Schema: for each mapped value, "not that value, or
    also the mapped schema" (its parts other than the base, which would loop back here)."""
    document = copy.deepcopy(document)
    schemas = document["components"]["schemas"]
    for name, schema in schemas.items():
        discriminator = schema.pop("discriminator", None)
        if not isinstance(discriminator, dict):
            continue
        prop, base = discriminator["propertyName"], f"#/components/schemas/{name}"
        for value, target in discriminator.get("mapping", {}).items():
            mapped = schemas[target.rpartition("/")[2]]
            parts = [part for part in mapped.get("allOf", [mapped]) if part.get("$ref") != base]
            other = {"not": {"required": [prop], "properties": {prop: {"enum": [value]}}}}
            schema.setdefault("allOf", []).append({"anyOf": [other, {"allOf": parts}]})
    return document


_FAST_FORMATS = {"ipv4": _is_ipv4, "ipv6": _is_ipv6, "uuid": _is_uuid, "date-time": _is_date_time, "uri": _is_uri}


@functools.cache
def _fast(api: Api, schema: str) -> Any:
    """jsonschema-rs's validator for a schema: `is_valid` only (errors come from `_validator`)."""
    document = _spelled_out(_document(api))
    root = {"allOf": [{"$ref": f"#/components/schemas/{schema}"}], "components": document["components"]}
    formats = {name: _format(check) for name, check in _FAST_FORMATS.items()}
    return jsonschema_rs.Draft4Validator(root, formats=formats, validate_formats=True)


def _format(check: Any) -> Any:
    def valid(value: str) -> bool:
        try:
            return bool(check(value))
        except ValueError:
            return False

    return valid


def contracts() -> tuple[Api, ...]:
    """Every OpenAPI file a release names (`qodlab.apis.RELEASES`), once each."""
    return tuple(dict.fromkeys(c for r in apis.RELEASES if r.contracts for c in r.contracts if c is not None))


def _requests() -> tuple[tuple[Api, str], ...]:
    """Each request schema the routes check, with its contract."""
    found: list[tuple[Api, str]] = []
    for release in apis.RELEASES:
        if release.contracts is None:
            continue
        qod, profiles, provisioning = release.contracts
        found += [
            (qod, "CreateSession"),
            (qod, "ExtendSessionDuration"),
            (qod, "RetrieveSessionsInput"),
            (profiles, "QosProfileDeviceRequest"),
            (profiles, "QosProfileName"),
        ]
        if provisioning is not None:
            found += [(provisioning, "CreateAssignment"), (provisioning, "RetrieveAssignmentByDevice")]
    return tuple(dict.fromkeys(found))


def load() -> None:
    """Read the contract and build the fast validators now, not on the first request.

    jsonschema (which words a refusal) is imported only when a body is first refused.
    """
    for api, name in _requests():
        _fast(api, name)


def check_value(value: Any, api: Api, schema: str, where: str = "") -> None:
    """Raise EngineError 400 INVALID_ARGUMENT unless `value` validates against the named schema."""
    if _fast(api, schema).is_valid(value):
        return
    from .wording import refusal  # jsonschema: only for a body that is refused

    found = refusal(value, api, schema, where)
    if found is not None:
        code, message = found
        raise EngineError(400, _CODES.get(code, "INVALID_ARGUMENT"), message)


def check(
    body: Any, api: Api, schema: str, *, strict: bool = False, gateway: bool = False, http_sinks: bool = False
) -> None:
    """Check a request body against the named schema.

    `strict`: the release refuses a property its schema does not declare (Commonalities r4.3).
    `gateway`: it came through Network as Code, whose phone numbers may lack the '+'.
    `http_sinks`: the sandbox's development mode, where an `http://` sink passes the https-only
    pattern here and the engine decides (loopback and private hosts only).
    """
    _no_snake_credential(body)
    if strict:
        unknown = undeclared(body, api, schema)
        if unknown:
            msg = f"{unknown}: not a property of this API (unknown properties are refused, at any level)"
            raise EngineError(400, "INVALID_ARGUMENT", msg)
    if gateway:
        body = _with_plus(body)
    sink = body.get("sink") if isinstance(body, dict) else None
    if isinstance(sink, str):  # the engine words what this sandbox's mode accepts (no schema pattern quoted)
        check_sink(sink, strict=not http_sinks)
    if http_sinks:
        body = _with_https(body)
    check_value(body, api, schema)


def undeclared(body: Any, api: Api, schema: str) -> str | None:
    """The path of the first property `body` has that the schema does not declare (read-only ones
    included: a request may not send them), or None."""
    schemas = _document(api)["components"]["schemas"]
    return _undeclared(body, {"$ref": f"#/components/schemas/{schema}"}, schemas, "")


def _undeclared(value: Any, schema: dict[str, Any], schemas: dict[str, Any], path: str) -> str | None:
    if isinstance(value, list):
        items = _resolved(schema, schemas).get("items")
        for index, item in enumerate(value):
            found = _undeclared(item, items, schemas, f"{path}[{index}]") if isinstance(items, dict) else None
            if found:
                return found
        return None
    if not isinstance(value, dict):
        return None
    declared = _declared(schema, schemas, value)
    if declared is None:  # a free-form object
        return None
    for key, inner in value.items():
        where = f"{path}.{key}" if path else key
        if key not in declared:
            return where
        found = _undeclared(inner, declared[key], schemas, where)
        if found:
            return found
    return None


def _resolved(schema: dict[str, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = schemas[schema["$ref"].rpartition("/")[2]]
    return schema


def _declared(
    schema: dict[str, Any], schemas: dict[str, Any], value: dict[str, Any], seen: frozenset[str] = frozenset()
) -> dict[str, Any] | None:
    """The properties (name -> schema, read-only ones left out) an object may have; None if any."""
    ref = schema.get("$ref")
    if isinstance(ref, str):
        if ref in seen:  # a discriminator's mapped schema names its base again
            return {}
        seen = seen | {ref}
    schema = _resolved(schema, schemas)
    declared: dict[str, Any] = {}
    found = False
    for name, part in schema.get("properties", {}).items():
        found = True
        if not _resolved(part, schemas).get("readOnly") and not part.get("readOnly"):
            declared[name] = part
    for key in ("allOf", "anyOf", "oneOf"):
        for part in schema.get(key, []):
            inner = _declared(part, schemas, value, seen)
            if inner is not None:
                found = True
                declared.update(inner)
    discriminator = schema.get("discriminator")
    if isinstance(discriminator, dict):
        chosen = value.get(discriminator.get("propertyName", ""))
        target = discriminator.get("mapping", {}).get(chosen) if isinstance(chosen, str) else None
        if isinstance(target, str):
            inner = _declared({"$ref": target}, schemas, value, seen)
            if inner is not None:
                found = True
                declared.update(inner)
    return declared if found else None


def _no_snake_credential(body: Any) -> None:
    """Refuse a snake-case `sinkCredential` with a message that says why (SDK 10.x's docs write it so)."""
    credential = body.get("sinkCredential") if isinstance(body, dict) else None
    snake = sorted(k for k in credential if "_" in k) if isinstance(credential, dict) else []
    if snake:
        msg = (
            f"sinkCredential: {', '.join(snake)}: CAMARA's fields are camelCase (credentialType, accessToken, "
            "accessTokenExpiresUtc, accessTokenType). Network as Code SDK 10's documentation writes them in "
            "snake case, and SDK 10.0.0 sends them as written."
        )
        raise EngineError(400, "INVALID_ARGUMENT", msg)


def nac_gateway(headers: Mapping[str, str]) -> bool:
    """Whether a request came through the Network as Code gateway (as its SDK's always do)."""
    return any(name in headers for name in _GATEWAY_HEADERS)


def no_nulls(body: Any, path: str = "") -> None:
    """Raise EngineError 400 for a `null` anywhere in a body: no QoD request field is nullable."""
    items = body.items() if isinstance(body, dict) else enumerate(body) if isinstance(body, list) else ()
    for key, value in items:
        where = f"{path}.{key}" if path else str(key)
        if value is None:
            raise EngineError(400, "INVALID_ARGUMENT", f"{where}: must not be null (leave the field out instead)")
        no_nulls(value, where)


def _with_https(body: Any) -> Any:
    """The body with an `http://` sink (and a PRIVATE_KEY_JWT `tokenUri`) read as https, for the engine to judge."""
    if not isinstance(body, dict):
        return body
    sink, credential = body.get("sink"), body.get("sinkCredential")
    if isinstance(sink, str) and sink[:7].lower() == "http://":
        body = {**body, "sink": f"https://{sink[7:]}"}
    uri = credential.get("tokenUri") if isinstance(credential, dict) else None
    if isinstance(credential, dict) and isinstance(uri, str) and uri[:7].lower() == "http://":
        body = {**body, "sinkCredential": {**credential, "tokenUri": f"https://{uri[7:]}"}}
    return body


def _with_plus(body: Any) -> Any:
    device = body.get("device") if isinstance(body, dict) else None
    number = device.get("phoneNumber") if isinstance(device, dict) else None
    if isinstance(device, dict) and isinstance(number, str) and number[:1].isdigit():
        return {**body, "device": {**device, "phoneNumber": f"+{number}"}}
    return body
