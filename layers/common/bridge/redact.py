"""What never reaches a log line in clear: credentials, tokens, RUTs, e-mail addresses.

The one Logger serializes every record through `dumps`, after Powertools has put together the final
dictionary (message, extra keys, per-work keys, exception text, stack trace), so nothing can slip around it.
Two nets:

- by key: the value under a sensitive key (`token`, `*_token`, `authorization`, `password`, `secret`, `rut`,
  `taxid`, `email`, `phone`...) is masked whatever it holds; a `<shop>.<secret>` notification token keeps its shop;
- by shape, in every string: e-mail addresses, Chilean RUTs (12.345.678-5, 12345678-5, 12345678K),
  `Basic`/`Bearer` credentials, `key=value` or `"key": "value"` secrets inside text, credentials in URLs,
  long random tokens (32+ hex digits, or 24+ base64 characters mixing upper case, lower case and digits),
  and the secret half of Bsale notification URLs (`/bsale/notifications/<shop>.***`).

Known gaps, by design: a RUT written without its dash and verifier letter (123456785) looks like any number;
a short or all-lowercase secret in free text is only caught under a sensitive key.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from functools import cache, lru_cache
from typing import Any

MASK = "***"


def _lazy(pattern: str) -> Callable[[], re.Pattern[str]]:
    """A regular expression compiled on its first use: a log line needs only the few its cheap tests call for, and
    compiling them all at import cost every handler's cold start ~1.5 ms (issue 12)."""
    return cache(lambda: re.compile(pattern))


_SENSITIVE_KEYS = frozenset({
    "authorization", "proxy_authorization", "cookie", "set_cookie", "password", "passwd", "secret", "api_key",
    "apikey", "x_api_key", "rut", "taxid", "tax_id", "email", "e_mail", "mail", "phone", "signature", "hmac",
    "jumpseller_hmac_sha256", "credentials",
})
_SENSITIVE_SUFFIXES = ("token", "secret", "password", "_email", "_rut", "_taxid", "_phone", "_signature")

_STORE_CODE_TOKEN = _lazy(r"^([a-z0-9][a-z0-9-]{0,62})\.[A-Za-z0-9_-]{8,}$")

# Free-text rules, applied in this order (earlier rules leave marks later ones do not touch).
_NOTIFICATION_URL = _lazy(r"(/bsale/notifications/[a-z0-9][a-z0-9-]{0,62}\.)[A-Za-z0-9_%-]+")
_URL_CREDENTIALS = _lazy(r"(?i)(\b[a-z][a-z0-9+.-]*://)[^/\s:@]+:[^/\s@]+@")
_AUTH_SCHEME = _lazy(r"(?i)\b(basic|bearer)(\s+)([A-Za-z0-9+/=._~-]{8,})")
# Quotes may come escaped (\"key\": \"value\"): JSON inside JSON, as library loggers print response bodies.
_KEYED_IN_TEXT = _lazy(
    r"(?i)((?:\\*[\"'])?\b[\w-]*(?:token|secret|password|passwd|api[_-]?key|authorization|hmac[\w-]*|rut|taxid"
    r"|tax_id|e-?mail)(?:\\*[\"'])?\s*[:=]\s*(?:\\*[\"'])?)([^\"'&\s,;)}\]\\]+)"
)
# Bsale's token → company lookup takes the token in its path (bsale.md §1.1): the only secret a URL path carries.
_BSALE_INSTANCE = _lazy(r"(/instances/basic/)[^/\s?\"'\\]+")
_EMAIL = _lazy(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_RUT = _lazy(r"\b(?:\d{1,2}\.\d{3}\.\d{3}-[\dkK]|\d{7,8}-[\dkK]|\d{7,8}[kK])\b")
_HEX_TOKEN = _lazy(r"\b[0-9a-fA-F]{32,}\b")
_B64_TOKEN = _lazy(r"[A-Za-z0-9+/_-]{24,}={0,2}")


@lru_cache(maxsize=1024)
def is_sensitive_key(key: str) -> bool:
    k = key.lower().replace("-", "_").replace(" ", "_")
    return k in _SENSITIVE_KEYS or k.endswith(_SENSITIVE_SUFFIXES)


def _looks_random(text: str) -> bool:
    return any(c.isupper() for c in text) and any(c.islower() for c in text) and any(c.isdigit() for c in text)


def _token(match: re.Match[str]) -> str:
    text = match.group(0)
    if "/" in text and ("-" in text or "_" in text):  # no base64 alphabet has both: a path or URL, piece by piece
        return "/".join("[token]" if len(p) >= 24 and _looks_random(p) else p for p in text.split("/"))
    return "[token]" if _looks_random(text) else text


def _credential(match: re.Match[str]) -> str:
    value = match.group(3)
    if any(c.isdigit() for c in value) or value.endswith("=") or _looks_random(value):
        return f"{match.group(1)}{match.group(2)}{MASK}"
    return match.group(0)  # "basic settings", not a credential


_KEYED_HINTS = ("token", "secret", "passw", "key", "authoriz", "hmac", "rut", "taxid", "tax_id", "mail")
_RUT_HINT = _lazy(r"\d{7}|\d\.\d{3}\.\d{3}")
_LONG_RUN = _lazy(r"[A-Za-z0-9+/_-]{24}")


def scrub_text(text: str) -> str:
    """Mask what looks like a secret or personal data in free text."""
    if len(text) < 6:
        return text
    return _scrub_short(text) if len(text) <= 256 else _scrub(text)


@lru_cache(maxsize=4096)  # log lines repeat most of their short values (names, messages, subjects)
def _scrub_short(text: str) -> str:
    return _scrub(text)


def _scrub(text: str) -> str:
    # Each rule runs only when a cheap test says it may match: most log values are short and plain.
    low = text.lower()
    if "/bsale/notifications/" in text:
        text = _NOTIFICATION_URL().sub(rf"\g<1>{MASK}", text)
    if "/instances/basic/" in text:
        text = _BSALE_INSTANCE().sub(rf"\g<1>{MASK}", text)
    if "@" in text:
        if "://" in text:
            text = _URL_CREDENTIALS().sub(rf"\g<1>{MASK}:{MASK}@", text)
        text = _EMAIL().sub("[email]", text)
    if "basic" in low or "bearer" in low:
        text = _AUTH_SCHEME().sub(_credential, text)
    if any(hint in low for hint in _KEYED_HINTS):
        text = _KEYED_IN_TEXT().sub(rf"\g<1>{MASK}", text)
    if _RUT_HINT().search(text):
        text = _RUT().sub("[rut]", text)
    if _LONG_RUN().search(text):
        text = _HEX_TOKEN().sub("[token]", text)
        text = _B64_TOKEN().sub(_token, text)
    return text


def mask_value(value: Any) -> Any:
    """The value of a sensitive key: gone, except the shop of a `<shop>.<secret>` notification token."""
    if value is None or value == "":
        return value
    if isinstance(value, str) and (match := _STORE_CODE_TOKEN().match(value)):
        return f"{match.group(1)}.{MASK}"
    return MASK


# Powertools' own fields: never user data, and on every line.
_OWN_FIELDS = frozenset({"level", "location", "timestamp", "service", "cold_start", "function_name",
                         "function_memory_size", "function_arn", "function_request_id", "xray_trace_id",
                         "sampling_rate"})


def scrub(value: Any) -> Any:
    """A copy of `value` (any JSON-like structure) safe to log."""
    if isinstance(value, dict):
        return {k: v if k in _OWN_FIELDS else mask_value(v) if is_sensitive_key(str(k)) else scrub(v)
                for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [scrub(v) for v in value]
    if isinstance(value, str):
        return scrub_text(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    return scrub_text(str(value))  # what json.dumps(default=str) would have written, scrubbed first


def dumps(record: Mapping[str, Any]) -> str:
    """The Logger's JSON serializer: Powertools' compact JSON, after `scrub`."""
    return json.dumps(scrub(record), separators=(",", ":"), ensure_ascii=False, default=str)
