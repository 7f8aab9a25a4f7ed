"""RUT: normalisation, módulo 11, validation and the Bsale form, on the worked examples of facto_dte.md."""

import random

import pytest

from bridge.documents.rut import (
    Rut,
    RutError,
    RutProblem,
    check_digit,
    normalize_rut,
    parse_rut,
)


@pytest.mark.parametrize(("given", "expected"), [
    ("12.345.678-5", "12345678-5"),  # Facto's sample receptor
    ("66.666.666-6", "66666666-6"),  # SII generic buyer
    ("55.555.555-5", "55555555-5"),
    ("96.874.030-K", "96874030-K"),
    ("96874030-k", "96874030-K"),  # lower-case k
    ("9.68.7403.0-k", "96874030-K"),  # dots anywhere (cl-sii doctest)
    ("77.879.240-0", "77879240-0"),
    ("60.803.000-K", "60803000-K"),  # the SII's own RUT
    ("1.111.111-4", "1111111-4"),
    (" 12 345 678 5 ", "12345678-5"),  # spaces, no dash
    ("123456785", "12345678-5"),
    ("012.345.678-5", "12345678-5"),  # leading zero
    ("12,345,678–5", "12345678-5"),  # commas and an en dash
])
def test_valid_ruts_in_any_typing(given: str, expected: str) -> None:
    # Given a RUT as people type it
    # When it is parsed
    parsed = parse_rut(given)
    # Then it is valid and formatted as Bsale wants: digits, dash, DV, no dots
    assert isinstance(parsed, Rut)
    assert str(parsed) == expected


@pytest.mark.parametrize(("given", "problem"), [
    ("12.345.678-9", RutProblem.WRONG_CHECK_DIGIT),  # the default RUT of a peer repo: invalid
    ("12.345.678-K", RutProblem.WRONG_CHECK_DIGIT),
    ("76.123.456-K", RutProblem.WRONG_CHECK_DIGIT),  # correct DV is 0
    ("1-9", RutProblem.OUT_OF_RANGE),  # módulo 11 fine, but below the SII's 100.000
    ("123.456.789-2", RutProblem.OUT_OF_RANGE),  # nine digits
    ("", RutProblem.EMPTY),
    (None, RutProblem.EMPTY),
    ("  -. ", RutProblem.EMPTY),
    ("0-0", RutProblem.EMPTY),
    ("12.345.678-X", RutProblem.INVALID_CHARACTERS),
    ("12a45678-5", RutProblem.INVALID_CHARACTERS),
    ("K", RutProblem.INVALID_CHARACTERS),
    ("١٢٣٤٥٦٧٨-5", RutProblem.INVALID_CHARACTERS),  # non-ASCII digits
    ("12.345.678/5", RutProblem.INVALID_CHARACTERS),
])
def test_invalid_ruts_say_why_in_spanish(given: str | None, problem: RutProblem) -> None:
    # Given something that is not a valid RUT
    # When it is parsed
    parsed = parse_rut(given)
    # Then the error value names the problem, with a reason a shop owner can read
    assert isinstance(parsed, RutError)
    assert parsed.problem is problem
    assert parsed.reason.startswith(("El RUT", "Falta el RUT"))


def test_short_bodies_can_be_allowed_explicitly() -> None:
    # Given Bsale's generic "1-9" client code, outside the SII body range but fine by módulo 11
    # Then a caller that wants it can accept it
    assert str(parse_rut("1-9", min_body=1)) == "1-9"


def test_display_form_and_generic_flag() -> None:
    parsed = parse_rut("66666666-6")
    assert isinstance(parsed, Rut)
    assert parsed.display == "66.666.666-6"
    assert parsed.is_generic
    assert not Rut(12345678, "5").is_generic


def _compact_form(body: int) -> str:
    """The compact browser algorithm (aatronco gist, facto_dte.md B.3), as an independent reference."""
    total, multiplier = 1, 0
    while body:
        total = (total + body % 10 * (9 - multiplier % 6)) % 11
        multiplier += 1
        body //= 10
    return str(total - 1) if total else "K"


def test_check_digit_agrees_with_the_compact_algorithm_on_many_bodies() -> None:
    # Given 50,000 random bodies across the whole range (fixed seed) and both ends
    rng = random.Random(20240611)
    bodies = [1, 100_000, 99_999_999, *(rng.randint(1, 99_999_999) for _ in range(50_000))]
    # Then both algorithms give the same check digit
    assert all(check_digit(body) == _compact_form(body) for body in bodies)


def test_normalize_is_not_validation() -> None:
    assert normalize_rut("00.012.345.678-k") == "12345678K"
    assert normalize_rut(None) == ""


@pytest.mark.parametrize("given", ["1" * 5000 + "-5", "9" * 4301, "١٢٣٤٥٦٧٨-5", "12345678" + "0" * 10_000 + "K"])
def test_a_rut_of_thousands_of_digits_is_out_of_range_not_an_error(given: str) -> None:
    # A customer's checkout field can hold anything: the answer is a reason for the shop owner, never an exception
    parsed = parse_rut(given)
    assert isinstance(parsed, RutError)
    assert parsed.problem in (RutProblem.OUT_OF_RANGE, RutProblem.INVALID_CHARACTERS)
    # and the reason quotes only the start of what was typed
    assert len(parsed.reason) < 200


@pytest.mark.parametrize(("given", "valid"), [
    ("100.000-4", True),  # the lowest body the SII allows
    ("99.999-7", False),  # one below it
    ("99.999.999-9", True),  # the highest body
])
def test_the_sii_body_range_includes_both_ends(given: str, valid: bool) -> None:
    assert isinstance(parse_rut(given), Rut) is valid


def test_only_zeros_are_dropped_from_the_front() -> None:
    # Normalisation must not swallow a stray letter in front of the digits
    assert normalize_rut("X12345678-5") == "X123456785"
    parsed = parse_rut("X12345678-5")
    assert isinstance(parsed, RutError)
    assert parsed.problem is RutProblem.INVALID_CHARACTERS


@pytest.mark.parametrize(("given", "quoted"), [
    ("12.345.678-9", "«12.345.678-9»"),
    (" 12a45678-5 ", "«12a45678-5»"),  # trimmed
    ("1-9", "«1-9»"),
    ("1234567890123456789-0", "«1234567890123456789-…»"),  # 21 characters: cut to 20, marked as cut
])
def test_the_reason_quotes_what_was_typed(given: str, quoted: str) -> None:
    parsed = parse_rut(given)
    assert isinstance(parsed, RutError)
    assert quoted in parsed.reason


def test_a_value_of_exactly_twenty_characters_is_quoted_whole() -> None:
    given = "12.345.678.901.234-5"
    assert len(given) == 20
    parsed = parse_rut(given)
    assert isinstance(parsed, RutError)
    assert f"«{given}»" in parsed.reason


def test_check_digit_of_a_negative_body_is_refused() -> None:
    assert check_digit(0) == "0"
    with pytest.raises(ValueError, match="never negative"):
        check_digit(-1)
