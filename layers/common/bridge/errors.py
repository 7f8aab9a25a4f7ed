"""Errors as values a shop owner or operator can read. Each carries the HTTP status it maps to."""

from __future__ import annotations


class BridgeError(Exception):
    status = 500
    code = "internal_error"
    answer_code: str | None = None  # what the caller is told, when it must not learn `code` (counted under `code`)

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class BadRequest(BridgeError):
    status = 400
    code = "bad_request"


class Unauthorized(BridgeError):
    status = 401
    code = "bad_signature"


class UnknownShop(BridgeError):
    status = 404
    code = "unknown_shop"


class ShopDisconnected(UnknownShop):
    """Jumpseller no longer accepts the shop's app tokens (the app was removed): the shop is not called."""


class UnknownStore(UnknownShop):
    """A webhook naming no connected store, answered exactly as a bad signature: a stranger cannot tell a
    connected store from one that is not (no enumeration). Still counted as an unknown shop."""

    status = 401
    answer_code = "bad_signature"


class WrongCompany(BridgeError):
    status = 403
    code = "wrong_company"


class PayloadTooLarge(BridgeError):
    status = 413
    code = "payload_too_large"


class ConfigurationError(BridgeError):
    """A shop setting Bsale or Jumpseller refuses (bad office, price list, credentials)."""

    status = 422
    code = "bad_configuration"


class UpstreamError(BridgeError):
    """Bsale or Jumpseller failed. `retryable` says whether trying again later can help."""

    status = 502
    code = "upstream_error"

    def __init__(self, service: str, reason: str, *, status_code: int | None = None, retryable: bool) -> None:
        super().__init__(f"{service}: {reason}")
        self.service = service
        self.upstream_reason = reason
        self.status_code = status_code
        self.retryable = retryable
