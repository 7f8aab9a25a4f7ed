"""F19: Bsale calls one SII watch tick makes for one shop, by the number of documents outstanding.

DynamoDB in memory (moto) and the Bsale sandbox on loopback. For each N, N documents the bridge made are being
followed, and the sandbox's office also holds `other` documents of the same days (point-of-sale sales the bridge
did not make) still "sent". Cases per N:
- `all_still_sent`: none decided yet (the tick learns nothing final);
- `all_decided`: every one decided since the last tick, one of them rejected;
- `with_other_sent`: as `all_still_sent`, plus 150 other "sent" documents in the office (the lists overflow their
  page budget, so the tick reads a bounded number of documents one by one).
Calls are counted at the sandbox (every GET of the shop's token during the tick), against a naive one call per
document per tick.
"""

from __future__ import annotations

import itertools
import time
from typing import Any

import requests

SIZES = (0, 1, 10, 100, 1000)
_numbers = itertools.count(1)


def _table() -> None:
    import boto3

    boto3.client("dynamodb", region_name="us-east-1").create_table(
        TableName="bench-sii", BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in ("pk", "sk")],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
    )


def _case(bsale: Any, n: int, *, decided: bool, other_sent: int) -> dict[str, Any]:
    from bridge.clients.bsale import BsaleClient
    from bridge.models.shop import Shop
    from bridge.orders import sii
    from bridge.shops.context import ShopContext
    from bridge.store import sii as watched
    from bridge.store.sii import Watched

    k = next(_numbers)
    account = bsale.demo_account(token=f"bench-sii-{k}", cpn_id=7000 + k)
    office = next(o for o in account.offices.values() if o.is_virtual)
    boleta = account.document_type_by_code(39)
    shop = Shop(shop_id=f"bench-{k}", cpn_id=account.cpn_id, office_id=office.id, price_list_id=1,
                bsale_api_url=bsale.url, bsale_credential_url=bsale.url)
    ctx = ShopContext(shop=shop, bsale=BsaleClient(account.token, bsale.url, bsale.url), jumpseller=None)  # type: ignore[arg-type]
    account.decide_sii(1)
    now = int(time.time())
    body = {"documentTypeId": boleta.id, "officeId": office.id, "emissionDate": now,
            "details": [{"comment": "Venta", "netUnitValue": 1000, "quantity": 1}]}
    seed = requests.Session()  # seeding goes straight to the sandbox, not through the shop's paced client
    seed.headers["access_token"] = account.token
    ours = [seed.post(f"{bsale.url}/v1/documents.json", json=body).json() for _ in range(n + other_sent)]
    for made in ours[:n]:
        watched.watch(shop.shop_id, Watched(document_id=int(made["id"]), order_id=int(made["id"]), kind="boleta",
                                            emitted_at=int(made["emissionDate"]), made_at=now))
    if decided:
        for i, made in enumerate(ours[:n]):
            account.set_informed_sii(int(made["id"]), 2 if i == 0 else 0, "Rechazado" if i == 0 else None)
    before = sum(1 for r in bsale.requests if r.credential == account.token and r.method == "GET")
    tick = sii.watch_shop(ctx, now)
    seen = sum(1 for r in bsale.requests if r.credential == account.token and r.method == "GET") - before
    assert seen == tick.calls, (seen, tick.calls)
    return {"calls": seen, "naive_calls": n, "decided": len(tick.accepted) + len(tick.rejected),
            "undecided": tick.undecided}


def run() -> dict[str, Any]:
    import os

    from moto import mock_aws

    from bridge import aws
    from bridge.observability import logger
    from bridge.settings import settings
    from sandboxes.bsale import BsaleSandbox

    logger.setLevel("ERROR")  # the rejections each case makes on purpose would print between the figures
    os.environ.update(TABLE_NAME="bench-sii", SHARED_RATE_LIMITS="false", AWS_DEFAULT_REGION="us-east-1")
    os.environ.pop("AWS_ENDPOINT_URL", None)
    settings.cache_clear()
    aws.reset()
    out: dict[str, Any] = {}
    with mock_aws(), BsaleSandbox(rate_limit_per_second=None) as bsale:
        _table()
        for n in SIZES:
            out[str(n)] = {
                "all_still_sent": _case(bsale, n, decided=False, other_sent=0),
                "all_decided": _case(bsale, n, decided=True, other_sent=0),
                "with_other_sent": _case(bsale, n, decided=False, other_sent=150),
            }
    return {"calls_per_shop_per_tick_by_documents_outstanding": out,
            "bounds": {"list_pages_per_list": "LIST_PAGES = 2", "reads_per_tick": "READS_PER_TICK = 5",
                       "max_calls_per_tick": "2 lists x 2 pages + 5 reads = 9"}}
