"""The CAMARA contract, enforced: request bodies and path parameters checked against its OpenAPI files.

The sandbox's pydantic models say what a request means; the contract says what it may look like.
Pydantic is lenient where JSON Schema is not (it turns `"60"` or `true` into an int, a number into
a datetime, and takes `null` for any optional field), so every CAMARA v1 request is first checked
against the schema in `quality-on-demand.yaml` or `qos-profiles.yaml`, copied unmodified from
CAMARA. A violation is a 400 INVALID_ARGUMENT naming the field, never a 2xx.

Deliberate departures: a request through the Network as Code gateway (its SDK always sends
`X-RapidAPI-Key` or `X-RapidAPI-Host`) may give a phone number without the leading `+`, as that
documentation's samples do (the contract digest, section 3); outside strict mode an `http://`
sink is the engine's to judge (a listener on loopback has no certificate). The older Network as
Code generations (root, `/qod/v0`) have no schema here: they get `no_nulls`.

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
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import jsonschema_rs
import yaml
from jsonschema import Draft4Validator, FormatChecker, ValidationError, validators
from referencing import Registry
from referencing.jsonschema import DRAFT4

from ..engine import EngineError

__all__ = ["Api", "check", "check_value", "load", "nac_gateway", "no_nulls"]

Api = Literal["qod", "profiles"]
_FILES: dict[str, str] = {"qod": "quality-on-demand.yaml", "profiles": "qos-profiles.yaml"}
_HERE = Path(__file__).parent
_RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?([Zz]|[+-]\d\d:\d\d)$")
_GATEWAY_HEADERS = ("x-rapidapi-key", "x-rapidapi-host")
# CAMARA's more specific 400 codes, by the field the first violation is about.
_CODES = {
    ("sink",): "INVALID_SINK",
    ("sinkCredential", "credentialType"): "INVALID_CREDENTIAL",
    ("sinkCredential", "accessTokenType"): "INVALID_TOKEN",
}

_formats = FormatChecker(formats=())


@_formats.checks("ipv4", raises=ValueError)
def _is_ipv4(value: object) -> bool:
    return not isinstance(value, str) or bool(ipaddress.IPv4Address(value))


@_formats.checks("ipv6", raises=ValueError)
def _is_ipv6(value: object) -> bool:
    return not isinstance(value, str) or bool(ipaddress.IPv6Address(value))


@_formats.checks("uuid", raises=ValueError)
def _is_uuid(value: object) -> bool:
    return not isinstance(value, str) or bool(uuid.UUID(value))


@_formats.checks("date-time", raises=ValueError)
def _is_date_time(value: object) -> bool:
    """RFC 3339 with a time zone, as the contract requires."""
    return not isinstance(value, str) or (bool(_RFC3339.match(value)) and bool(datetime.fromisoformat(value)))


@_formats.checks("uri", raises=ValueError)
def _is_uri(value: object) -> bool:
    if not isinstance(value, str):
        return True
    parts = urlsplit(value)
    return bool(parts.scheme) and bool(parts.netloc or parts.path) and not any(c.isspace() for c in value)


def _discriminator(
    validator: Any, discriminator: Mapping[str, Any], instance: Any, schema: Mapping[str, Any]
) -> Iterator[ValidationError]:
    """OpenAPI's `discriminator`: also validate against the schema its property's value maps to.

    JSON Schema ignores the keyword, and without it an ACCESSTOKEN credential with no token would
    pass. The mapped schema's `allOf` names the base schema again; that part is skipped.
    """
    if not isinstance(instance, dict):
        return
    value = instance.get(discriminator.get("propertyName", ""))
    target = discriminator.get("mapping", {}).get(value) if isinstance(value, str) else None
    if not isinstance(target, str):
        return  # a missing or unknown value is the base schema's `required` or `enum` to report
    resolver = _registry().resolver(target.partition("#")[0])  # mappings are made absolute on load
    mapped = resolver.lookup(target).contents
    for part in mapped.get("allOf", [mapped]):
        if "$ref" in part and resolver.lookup(part["$ref"]).contents is schema:
            continue
        yield from validator.descend(instance, part)


_OpenApi30: Any = validators.extend(Draft4Validator, {"discriminator": _discriminator})  # type: ignore[no-untyped-call]


@functools.cache
def _document(api: Api) -> dict[str, Any]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    document: dict[str, Any] = yaml.load((_HERE / _FILES[api]).read_text(), Loader=loader)
    return document


@functools.cache
def _registry() -> Registry[Any]:
    registry: Registry[Any] = Registry()
    for api in _FILES:
        uri = f"urn:camara:{api}"
        document = copy.deepcopy(_document(api))
        _absolute_mappings(document, uri)
        registry = registry.with_resource(uri, DRAFT4.create_resource(document))
    return registry


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


def _absolute_mappings(node: Any, uri: str) -> None:
    """Make discriminator mappings absolute, so `_discriminator` can resolve them from anywhere."""
    if isinstance(node, dict):
        mapping = (
            node.get("discriminator", {}).get("mapping", {}) if isinstance(node.get("discriminator"), dict) else {}
        )
        for key, ref in mapping.items():
            if isinstance(ref, str) and ref.startswith("#"):
                mapping[key] = f"{uri}{ref}"
        for value in node.values():
            _absolute_mappings(value, uri)
    elif isinstance(node, list):
        for value in node:
            _absolute_mappings(value, uri)


@functools.cache
def _validator(api: Api, schema: str) -> Any:
    ref = {"$ref": f"urn:camara:{api}#/components/schemas/{schema}"}
    return _OpenApi30(ref, registry=_registry(), format_checker=_formats)


_REQUESTS: tuple[tuple[Api, str], ...] = (
    ("qod", "CreateSession"),
    ("qod", "ExtendSessionDuration"),
    ("qod", "RetrieveSessionsInput"),
    ("profiles", "QosProfileDeviceRequest"),
    ("profiles", "QosProfileName"),
)


def load() -> None:
    """Read the contract and build the validators now, not on the first request (~15 ms)."""
    for api, name in _REQUESTS:
        _validator(api, name)
        _fast(api, name)


def check_value(value: Any, api: Api, schema: str, where: str = "") -> None:
    """Raise EngineError 400 INVALID_ARGUMENT unless `value` validates against the named schema."""
    if _fast(api, schema).is_valid(value):
        return
    errors = sorted(_validator(api, schema).iter_errors(value), key=lambda e: (len(e.absolute_path), str(e.path)))
    if errors:
        code = _CODES.get(tuple(map(str, errors[0].absolute_path)), "INVALID_ARGUMENT")
        raise EngineError(400, code, "; ".join(_describe(e, where) for e in errors[:3]))


def check(body: Any, api: Api, schema: str, *, gateway: bool = False, http_sinks: bool = False) -> None:
    """Check a request body against the named schema.

    `gateway`: it came through Network as Code, whose phone numbers may lack the '+'.
    `http_sinks`: the sandbox's development mode, where an `http://` sink passes the https-only
    pattern here and the engine decides (loopback and private hosts only).
    """
    _no_snake_credential(body)
    if gateway:
        body = _with_plus(body)
    if http_sinks:
        body = _with_https(body)
    check_value(body, api, schema)


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


def _describe(error: Any, where: str) -> str:  # a ValidationError: its typed attributes admit "unset"
    path = ".".join([where] * bool(where) + [str(p) for p in error.absolute_path])
    if error.validator == "type" and error.instance is None:
        text = "must not be null (leave the field out instead)"
    elif error.validator in ("anyOf", "oneOf"):
        text = "does not match any allowed form" + _hint(error)
    elif error.validator == "minProperties" and error.schema.get("properties"):
        text = f"needs at least one identifier: {', '.join(error.schema['properties'])}"
    elif error.validator == "format":
        text = f"{error.instance!r} is not a valid {error.validator_value}"
    else:
        text = error.message
    return f"{path}: {text}" if path else text


def _hint(error: Any) -> str:
    required: list[list[str]] = [
        s["required"] for s in error.validator_value if isinstance(s, dict) and "required" in s
    ]
    return f" (needs one of: {' or '.join('+'.join(r) for r in required)})" if required else ""


def _with_https(body: Any) -> Any:
    sink = body.get("sink") if isinstance(body, dict) else None
    if isinstance(sink, str) and sink[:7].lower() == "http://":
        return {**body, "sink": f"https://{sink[7:]}"}
    return body


def _with_plus(body: Any) -> Any:
    device = body.get("device") if isinstance(body, dict) else None
    number = device.get("phoneNumber") if isinstance(device, dict) else None
    if isinstance(device, dict) and isinstance(number, str) and number[:1].isdigit():
        return {**body, "device": {**device, "phoneNumber": f"+{number}"}}
    return body
