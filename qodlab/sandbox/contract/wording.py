"""Why a body is refused, in words that name the field: the pure-Python jsonschema over the same files.

Imported only when jsonschema-rs has refused a body (`check_value`), so a sandbox that only sees
valid requests never imports jsonschema. jsonschema registers its optional format checkers when
it is imported, and where `rfc3987-syntax` is installed (wherever JupyterLab is) that builds a
grammar for 1 to 3 s; the checker here uses none of them (`FormatChecker(formats=())`), so that
module is kept out of the import (`qodlab._jsonschema.without_iri_grammar`).
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Iterator, Mapping
from typing import Any

from referencing import Registry
from referencing.jsonschema import DRAFT4

from ..._jsonschema import without_iri_grammar
from . import _FAST_FORMATS, Api, _document, contracts

with without_iri_grammar():
    from jsonschema import Draft4Validator, FormatChecker, ValidationError, validators

__all__ = ["refusal"]

_formats = FormatChecker(formats=())
for _name, _check in _FAST_FORMATS.items():
    _formats.checks(_name, raises=ValueError)(_check)


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
def _registry() -> Registry[Any]:
    registry: Registry[Any] = Registry()
    for api in contracts():
        uri = _uri(api)
        document = copy.deepcopy(_document(api))
        _absolute_mappings(document, uri)
        registry = registry.with_resource(uri, DRAFT4.create_resource(document))
    return registry


def _uri(api: Api) -> str:
    """A contract's URI in the registry (`urn:camara:r4.1:quality-on-demand.yaml`)."""
    return f"urn:camara:{api.replace('/', ':')}"


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
    ref = {"$ref": f"{_uri(api)}#/components/schemas/{schema}"}
    return _OpenApi30(ref, registry=_registry(), format_checker=_formats)


def refusal(value: Any, api: Api, schema: str, where: str = "") -> tuple[tuple[str, ...], str] | None:
    """(the first violation's path, a message naming up to three violations), or None if it is valid."""
    errors = sorted(_validator(api, schema).iter_errors(value), key=lambda e: (len(e.absolute_path), str(e.path)))
    if not errors:
        return None
    return tuple(map(str, errors[0].absolute_path)), "; ".join(_describe(e, where) for e in errors[:3])


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
