"""Chilean RUT: normalisation, módulo 11 check digit, validation and the form Bsale wants (`12345678-5`).

Normalisation (as cl-sii and LibreDTE do): drop dots, commas, spaces and dashes, upper-case the `k`, drop
leading zeros; the last character is the check digit (DV). The SII's body range is 100.000 to 99.999.999.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

MIN_BODY = 100_000  # SII format doc: the body is a number between 100.000 and 99 million
MAX_BODY = 99_999_999
MAX_GIVEN = 20  # what a reason quotes of the value typed (a valid RUT with dots and dash is 12)
GENERIC_RUTS = frozenset({"66666666-6"})  # the SII's anonymous buyer; meaningless on a factura
# What people type between digits: dots, commas, spaces (also non-breaking), dashes of every kind.
# panel/assets/rut-checkout.js strips exactly the same set.
_SEPARATORS = str.maketrans("", "", ".,- \t\n\r\u00a0\u202f\u2010\u2011\u2012\u2013\u2014\u2212")


def check_digit(body: int) -> str:
    """Módulo 11: digits right to left times 2,3,4,5,6,7,2,3…; 11 − (sum mod 11); 11 → "0", 10 → "K"."""
    if body < 0:
        raise ValueError("a RUT body is never negative")
    total = sum(int(digit) * (2 + i % 6) for i, digit in enumerate(reversed(str(body))))
    remainder = 11 - total % 11
    return {11: "0", 10: "K"}.get(remainder, str(remainder))


class RutProblem(StrEnum):
    EMPTY = "empty"
    INVALID_CHARACTERS = "invalid_characters"
    OUT_OF_RANGE = "out_of_range"
    WRONG_CHECK_DIGIT = "wrong_check_digit"


@dataclass(frozen=True)
class Rut:
    body: int
    dv: str  # "0"-"9" or "K"

    def __str__(self) -> str:
        """The form Bsale and the SII XML use: digits, dash, DV; no dots."""
        return f"{self.body}-{self.dv}"

    @property
    def display(self) -> str:
        """The form people read: 12.345.678-5."""
        return f"{self.body:,}".replace(",", ".") + f"-{self.dv}"

    @property
    def is_generic(self) -> bool:
        return str(self) in GENERIC_RUTS


@dataclass(frozen=True)
class RutError:
    problem: RutProblem
    reason: str  # Spanish, for the shop owner
    given: str | None = None


def normalize_rut(raw: str | None) -> str:
    """"12.345.678-k " → "12345678K": separators gone, upper-case K, no leading zeros. Not validated."""
    compact = (raw or "").translate(_SEPARATORS).upper().lstrip("0")
    return compact


def parse_rut(raw: str | None, *, min_body: int = MIN_BODY) -> Rut | RutError:
    """A valid RUT, or the reason it is not one. `min_body=1` accepts the short bodies the SII range excludes."""
    given = raw.strip()[:MAX_GIVEN] if raw else None  # a checkout field can hold anything, of any length
    shown = given if raw is None or len(raw.strip()) <= MAX_GIVEN else f"{given}…"
    compact = normalize_rut(raw)
    if not compact:
        return RutError(RutProblem.EMPTY, "Falta el RUT", given)
    body_text, dv = compact[:-1], compact[-1]
    if not compact.isascii() or not body_text.isdigit() or not (dv.isdigit() or dv == "K"):
        return RutError(RutProblem.INVALID_CHARACTERS, f"El RUT «{shown}» tiene caracteres no válidos", given)
    # Length first: int() of thousands of digits is refused by Python itself (and no RUT has more than 8).
    if len(body_text) > len(str(MAX_BODY)) or not min_body <= int(body_text) <= MAX_BODY:
        return RutError(RutProblem.OUT_OF_RANGE, f"El RUT «{shown}» está fuera del rango de RUT válidos", given)
    body = int(body_text)
    expected = check_digit(body)
    if dv != expected:
        return RutError(
            RutProblem.WRONG_CHECK_DIGIT,
            f"El RUT «{shown}» no es válido: el dígito verificador no corresponde",
            given,
        )
    return Rut(body, dv)
