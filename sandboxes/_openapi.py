"""Checks requests to and responses from the Jumpseller sandbox against the official OpenAPI 3.0.3 file.

The spec (``sandboxes/specs/jumpseller-openapi.json``, a verbatim copy of ``reference/jumpseller-openapi.json``,
sha256 ``c3b5ae53…``; override with ``JUMPSELLER_OPENAPI_SPEC``) is loaded once per process. Loading costs
~0.4 s of imports and a few ms of parsing; each check then takes 1-3 ms.

Known conflicts between the official spec and the real API are patched here, narrowly, and nowhere else:

1. ``PUT /products/{id}.json``: ``ProductEditFields`` marks ``name`` and ``price`` as required, yet partial
   bodies such as ``{"product": {"stock": 5}}`` work in practice. NOT patched: the project sends both on every
   product PUT, and the sandbox keeps the official rule so a partial body from the project fails its tests.
2. ``GET /products/search.json``: ``fields`` is documented as a comma separated list (its own example is
   ``fields=name,description``) but its schema is a single-value enum. It is checked as a comma separated list
   of those same enum values.
3. ``DocumentFields.document_type`` is ``type: integer`` with a string enum (``"0 - credit note"``,
   ``"1 - invoice"``), which no value can satisfy. It is checked as the integer 0 or 1 the descriptions mean.
4. Responses: the spec's own prose says "all empty values are replaced with null", but no schema is marked
   ``nullable``. Response schemas are therefore checked with ``nullable: true`` everywhere (requests are not).
5. The file itself fails openapi-spec-validator (``/apps/{code}/billing_cycle_dates.json`` declares an optional
   path parameter), so the self-check of the spec is skipped; it is unrelated to the endpoints served here.

Not patched but worth knowing: ``/store/info.json`` is documented unwrapped while the live API answers
``{"store": {...}}``; the unwrapped schema has no required fields, so the wrapped answer passes as is.
Status codes the spec does not document for an operation (401, 429, 400 of our own) are not checked.
"""

from __future__ import annotations

import copy
import functools
import json
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# openapi-core cannot evaluate the OAuth2 alternative of each operation's security list and warns on every
# request; credentials are checked by the sandbox itself before validation, so the warning is noise.
warnings.filterwarnings("ignore", message="Unsupported scheme type", category=UserWarning)

DEFAULT_SPEC = Path(__file__).with_name("specs") / "jumpseller-openapi.json"
SERVER = "https://api.jumpseller.com"  # requests are matched as if sent to the official server URL


@dataclass
class _Request:
    """Minimal object satisfying openapi-core's request protocol."""

    host_url: str
    path: str
    method: str
    body: bytes | None
    content_type: str
    parameters: Any


@dataclass(frozen=True)
class _Response:
    status_code: int
    data: bytes | None
    content_type: str
    headers: Any


class SpecChecker:
    def __init__(self, spec: dict[str, Any]) -> None:
        from openapi_core import Config, OpenAPI

        config = Config(spec_validator_cls=None)
        self._requests = OpenAPI.from_dict(_patch_requests(copy.deepcopy(spec)), config=config)
        self._responses = OpenAPI.from_dict(_patch_responses(copy.deepcopy(spec)), config=config)

    def check_request(
        self, method: str, path: str, query: list[tuple[str, str]], headers: dict[str, str], body: bytes
    ) -> str | None:
        """None when the spec accepts the request, else a human readable reason."""
        try:
            self._requests.validate_request(self._request(method, path, query, headers, body))
        except Exception as exc:  # openapi-core raises a family of unrelated exception types
            return _reason(exc)
        return None

    def check_response(
        self, method: str, path: str, query: list[tuple[str, str]], headers: dict[str, str], status: int,
        body: bytes, content_type: str,
    ) -> str | None:
        from openapi_core.templating.responses.exceptions import ResponseNotFound
        from werkzeug.datastructures import Headers

        request = self._request(method, path, query, headers, b"")
        response = _Response(status, body or None, content_type.split(";")[0].strip(), Headers())
        try:
            self._responses.validate_response(request, response)
        except ResponseNotFound:
            return None  # status code not documented for this operation: nothing to compare against
        except Exception as exc:
            return _reason(exc)
        return None

    @staticmethod
    def _request(
        method: str, path: str, query: list[tuple[str, str]], headers: dict[str, str], body: bytes
    ) -> _Request:
        from openapi_core.datatypes import RequestParameters
        from werkzeug.datastructures import Headers, ImmutableMultiDict

        content_type = headers.get("content-type", "")
        parameters = RequestParameters(
            path={}, query=ImmutableMultiDict(query), header=Headers(headers), cookie=ImmutableMultiDict()
        )
        return _Request(SERVER, path, method.lower(), body or None, content_type.split(";")[0].strip(), parameters)


@functools.cache
def checker() -> SpecChecker:
    path = Path(os.environ.get("JUMPSELLER_OPENAPI_SPEC") or DEFAULT_SPEC)
    return SpecChecker(json.loads(path.read_text(encoding="utf-8")))


def _patch_requests(spec: dict[str, Any]) -> dict[str, Any]:
    schemas = spec["components"]["schemas"]
    _patch_document_type(schemas)  # conflict 3
    for parameter in spec["paths"]["/products/search.json"]["get"]["parameters"]:  # conflict 2
        if parameter.get("name") == "fields":
            values = "|".join(parameter["schema"].pop("enum"))
            parameter["schema"]["pattern"] = f"^({values})(,({values}))*$"
    return spec


def _patch_responses(spec: dict[str, Any]) -> dict[str, Any]:
    _patch_document_type(spec["components"]["schemas"])
    _make_nullable(spec["components"]["schemas"])  # conflict 4
    for path_item in spec["paths"].values():
        for operation in path_item.values():
            if isinstance(operation, dict):
                _make_nullable(operation.get("responses", {}))
    return spec


def _patch_document_type(schemas: dict[str, Any]) -> None:
    schemas["DocumentFields"]["properties"]["document_type"]["enum"] = [0, 1]


def _make_nullable(node: Any) -> None:
    if isinstance(node, dict):
        if "type" in node and isinstance(node["type"], str) and "$ref" not in node:
            node["nullable"] = True
            if isinstance(node.get("enum"), list) and None not in node["enum"]:
                node["enum"] = [*node["enum"], None]  # the validator checks enum membership even for null
        for value in node.values():
            _make_nullable(value)
    elif isinstance(node, list):
        for value in node:
            _make_nullable(value)


def _reason(exc: Exception) -> str:
    """Short reason: what failed and where, without openapi-core's dump of the whole value."""
    head = str(exc).split(": Value ")[0]
    cause = exc.__cause__
    schema_errors = getattr(cause, "schema_errors", None)
    if schema_errors:
        details = "; ".join(f"{getattr(e, 'json_path', '$')}: {getattr(e, 'message', e)}" for e in schema_errors)
        return f"{head}: {details}"
    tail = str(cause).split(": Value ")[0] if cause is not None else ""
    return f"{head}: {tail}" if tail and tail not in head else head
