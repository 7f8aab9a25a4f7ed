"""The redactor on its own: what it masks, and what it must leave readable for an operator."""

from __future__ import annotations

import base64
import json
import secrets

import pytest

from bridge.redact import dumps, scrub, scrub_text

NOTIFY_SECRET = secrets.token_urlsafe(32)
HEX_TOKEN = secrets.token_hex(20)  # a Bsale access token looks like this
B64 = base64.b64encode(secrets.token_bytes(32)).decode()  # a Jumpseller HMAC signature looks like this


@pytest.mark.parametrize(
    ("text", "gone", "kept"),
    [
        (f"POST /bsale/notifications/mystore.{NOTIFY_SECRET} failed", [NOTIFY_SECRET],
         ["/bsale/notifications/mystore.***"]),
        ("contact ana.perez+tienda@example.cl now", ["ana.perez", "example.cl"], ["contact", "[email]"]),
        ("RUT 12.345.678-5, 12345678-5, 12345678K and 7.654.321-k", ["12.345.678-5", "12345678-5", "12345678K",
                                                                     "7.654.321-k"], ["RUT", "[rut]"]),
        ("Authorization: Basic bG9naW46dG9rZW4xMjM=", ["bG9naW46dG9rZW4xMjM="], ["Authorization"]),
        ("Bearer eyJhbGciOi.eyJzdWIiOiIx.c2lnbmF0dXJl", ["eyJhbGciOi"], ["Bearer ***"]),
        ("GET /v1/stocks.json?access_token=abc123&office=2", ["abc123"], ["access_token=***", "office=2"]),
        ("{'bsale_token': 'plain-words', 'office_id': 2}", ["plain-words"], ["'office_id': 2"]),
        ('{"hooks_token": "x1", "email": "a@b.cl"}', ['"x1"', "a@b.cl"], ["hooks_token"]),
        ("https://mylogin:s3cret@api.jumpseller.com/v1/products.json", ["mylogin", "s3cret"], ["api.jumpseller.com"]),
        (f"token hash {HEX_TOKEN}", [HEX_TOKEN], ["[token]"]),
        (f"signature {B64}", [B64], ["[token]"]),
    ],
    ids=["notification-url", "email", "ruts", "basic-auth", "bearer", "query-token", "repr-dict", "json-in-text",
         "url-credentials", "hex-token", "base64-token"],
)
def test_free_text_loses_secrets_and_personal_data(text: str, gone: list[str], kept: list[str]) -> None:
    out = scrub_text(text)
    for fragment in gone:
        assert fragment not in out, out
    for fragment in kept:
        assert fragment in out, out


@pytest.mark.parametrize(
    "text",
    [
        'File "/work/main/.venv/lib/python3.11/site-packages/aws_lambda_powertools/utilities/batch/base.py", line 3',
        "http://127.0.0.1:5000/123456789012/devstack-CatalogDeadLetterQueue",
        "arn:aws:lambda:us-east-1:123456789012:function:devstack-BsaleWorkerFunction",
        "correlation 3f2c5a9e-1b2c-4d5e-8f90-123456789abc, trace 1-5759e988-bd862e3fe1be46a994272793",
        "basic settings apply; the token provided is invalid; stock 12 → 7 for POL-S; order 10234",
        "2024-05-01T12:00:00Z and 1714564800",
    ],
)
def test_what_operators_need_stays_readable(text: str) -> None:
    assert scrub_text(text) == text


def test_values_under_sensitive_keys_are_masked_whatever_they_hold() -> None:
    record = {
        "token": f"mystore.{NOTIFY_SECRET}",
        "headers": {"Jumpseller-Hmac-Sha256": B64, "Authorization": "Basic abc", "Content-Type": "application/json"},
        "customer": {"email": "ana@example.cl", "taxid": 76543210, "phone": "+56 9 1234 5678", "name": "Ana"},
        "credentials": {"bsale_token": "t"},
        "jumpseller_auth_token": "short",
        "count": 3,
        "empty_token": None,
    }
    out = scrub(record)
    assert out["token"] == "mystore.***"  # the shop stays, the secret goes
    assert out["headers"] == {"Jumpseller-Hmac-Sha256": "***", "Authorization": "***",
                              "Content-Type": "application/json"}
    assert out["customer"] == {"email": "***", "taxid": "***", "phone": "***", "name": "Ana"}
    assert out["credentials"] == "***"
    assert out["jumpseller_auth_token"] == "***"
    assert out["count"] == 3 and out["empty_token"] is None


def test_dumps_is_compact_json_and_scrubs_what_json_would_stringify() -> None:
    class Opaque:
        def __str__(self) -> str:
            return "customer ana@example.cl"

    line = dumps({"message": "hello", "extra": Opaque(), "n": 1.5, "ok": True, "items": ("a", "b")})
    assert json.loads(line) == {"message": "hello", "extra": "customer [email]", "n": 1.5, "ok": True,
                                "items": ["a", "b"]}
    assert ", " not in line


# Every form a Chilean RUT takes in a log line: with or without thousands dots, 7 or 8 digits, verifier digit or K.
RUT_FORMS = ["12.345.678-5", "12345678-5", "12345678K", "12345678k", "7.654.321-k", "7.654.321-K", "9876543-2",
             "9.876.543-2", "9876543K", "1.234.567-4", "76.543.210-3", "76543210-3"]


@pytest.mark.parametrize("rut", RUT_FORMS)
@pytest.mark.parametrize("template", ["{}", "cliente RUT {}", "RUT: {}.", "(rut {})", "factura a {} por 9990",
                                      "billing taxid={}", '{{"taxid": "{}"}}'])
def test_every_rut_form_is_masked_in_free_text(rut: str, template: str) -> None:
    out = scrub_text(template.format(rut))
    assert rut not in out and rut.replace(".", "") not in out, out


def test_the_rut_of_a_seven_digit_customer_is_masked() -> None:
    assert scrub_text("cliente RUT 9876543-2") == "cliente RUT [rut]"


# Keys a log record may carry personal data or a secret under, in the spellings the code and the APIs use. The
# values are what free text alone would let through (no dash, short, plain), so only the key can mask them.
SENSITIVE_KEYS = ["rut", "RUT", "Rut", "taxid", "TaxId", "tax_id", "tax-id", "email", "e_mail", "E-Mail", "mail",
                  "phone", "password", "passwd", "secret", "api_key", "apikey", "x-api-key", "authorization",
                  "proxy-authorization", "cookie", "set-cookie", "signature", "hmac", "Jumpseller-Hmac-Sha256",
                  "credentials", "token", "access_token", "hooks_token", "bsale_token", "client_secret",
                  "db_password", "customer_email", "billing_rut", "company_taxid", "contact_phone",
                  "webhook_signature"]


@pytest.mark.parametrize("key", SENSITIVE_KEYS)
@pytest.mark.parametrize("value", ["98765432", "plain", 76543210])
def test_a_value_under_a_sensitive_key_is_masked(key: str, value: object) -> None:
    assert scrub({key: value}) == {key: "***"}
    assert scrub({"order": {"billing": [{key: value}]}}) == {"order": {"billing": [{key: "***"}]}}


def test_the_value_under_rut_is_masked() -> None:
    assert scrub({"rut": "98765432", "name": "Ana"}) == {"rut": "***", "name": "Ana"}


@pytest.mark.parametrize("key", ["office_id", "variant_id", "sku", "order_id", "quantity", "stock", "status",
                                 "name", "trust", "route", "mailbox_count"])
def test_ordinary_keys_keep_their_values(key: str) -> None:
    assert scrub({key: "98765432"}) == {key: "98765432"}


@pytest.mark.parametrize(("text", "masked"), [("a@b.cl", "[email]"), ("ab@c.cl", "[email]")])
def test_short_values_at_the_length_limit_are_still_scrubbed(text: str, masked: str) -> None:
    # Values under 6 characters skip the rules (nothing to find there); a 6-character e-mail must not.
    assert scrub_text(text) == masked


def test_bsale_refusals_quoting_a_client_lose_its_rut_and_email() -> None:
    # The order steps log Bsale's words through the same redactor, with the same masks.
    text = 'There are more than a client with the code "12.345.678-5" (compras@ferreteria.cl) and 77879240-0'
    assert scrub_text(text) == 'There are more than a client with the code "[rut]" ([email]) and [rut]'
