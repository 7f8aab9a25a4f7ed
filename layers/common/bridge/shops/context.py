"""Everything a worker needs to act for one shop: its settings, and API clients with its credentials."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bridge import secrets
from bridge.clients import bsale as bsale_api
from bridge.clients import jumpseller as jumpseller_api
from bridge.clients.bsale import BsaleClient
from bridge.clients.hosts import check_api_url
from bridge.clients.http import Pace, Quota, SharedPace, Waits
from bridge.clients.jumpseller import JumpsellerClient
from bridge.errors import ShopDisconnected
from bridge.models.shop import Shop, ShopSecrets
from bridge.settings import settings
from bridge.shops.tokens import AppToken
from bridge.store import rate, shops

if TYPE_CHECKING:
    from bridge.clients import facto as facto_api

# Each shop's quota is the published limit (Bsale 8/s; Jumpseller 20/s and 800/min) in any rolling window,
# stretched by bridge.store.rate.JITTER so the time between our count and the API's cannot tip a window over.
# Live and bulk work draw on one log per shop and API: bulk may use the whole cap while no live call is recent,
# and otherwise leaves room in every window for the live ones (bridge.store.rate), so live changes come first.
QUOTAS = {
    "bsale": [Quota(1, 8)],
    "jumpseller": [Quota(1, 20), Quota(60, 800)],
}
# A live (webhook) call whose shop's quota is spent waits for the next unit when it is this close (never past
# the invocation's time): a bulk batch books at most ~0.56 s ahead (4 x 1.122 / 8), so a live call that finds
# the window full of bulk work waits for it rather than handing its message back. A unit further off (the
# shop's own burst) hands the message back, delayed, and the worker takes the next one, which may be another
# shop's: sleeping longer would let one shop's burst occupy every worker.
WEBHOOK_MAX_WAIT = 0.6
# Bulk work takes its quota units this many at a time (one table write for BULK_BATCH calls), spaced at its own
# pace and never faster than the cap's; each unit counts only around its own slot (bridge.store.rate), so a
# batch holds back the shop's other calls no more than the same calls made one by one.
BULK_BATCH = {"bsale": 4, "jumpseller": 8}
BULK_HOLD = 2.0
PATIENT_MAX_WAIT = 120.0
# The catalog worker's calls (`impatient`): an answer slower than this counts as none, and is not waited for
# twice (SQS retries the message later). One slow shop then costs a batch seconds, not the invocation (F16).
# The order worker keeps the patient default: Bsale may take longer to make a document.
IMPATIENT_TIMEOUT = (3.05, 5.0)  # connect, read


@dataclass
class ShopContext:
    shop: Shop
    bsale: BsaleClient
    jumpseller: JumpsellerClient
    facto: facto_api.Credentials | None = None  # the shop emits its documents with Facto

    @property
    def shop_id(self) -> str:
        return self.shop.shop_id


def _pace(shop: Shop, api: str, local: Pace, bulk: bool, webhook: bool) -> Waits:
    if not settings().shared_rate_limits:
        return local
    max_wait = WEBHOOK_MAX_WAIT if webhook else PATIENT_MAX_WAIT
    return SharedPace(local, shop.shop_id, api, QUOTAS[api], max_wait, rate.take,
                      batch=BULK_BATCH[api] if bulk else 1, hold=BULK_HOLD if bulk else 0.0)


def clients_for(shop: Shop, creds: ShopSecrets, *, bulk: bool = False, webhook: bool = False,
                impatient: bool = False) -> ShopContext:
    """Clients for one shop. `bulk`: the smaller share of the quotas; `webhook`: defer rather than wait;
    `impatient`: short timeouts, never retried."""
    # The stored URLs are checked every time: a token never goes to another host, or in clear.
    check_api_url(shop.bsale_api_url, "bsale_api")
    check_api_url(shop.bsale_credential_url, "bsale_credential")
    check_api_url(shop.jumpseller_api_url, "jumpseller_api")
    if shop.options.document_provider == "facto":
        check_api_url(shop.facto_url, "facto")
    bsale_pace = _pace(shop, "bsale", bsale_api.local_pace(creds.bsale_token), bulk, webhook)
    js_pace = _pace(shop, "jumpseller", jumpseller_api.local_pace(creds.jumpseller_login or shop.shop_id), bulk,
                    webhook)
    facto = None
    if shop.options.document_provider == "facto" and creds.facto_user and creds.facto_key:
        # Imported only for a shop that emits with Facto: the workers' cold start loads no Facto client (issue 12).
        from bridge.clients import facto as facto_api

        facto = facto_api.Credentials(creds.facto_user, creds.facto_key, shop.facto_url)
    ctx = ShopContext(
        shop=shop,
        bsale=BsaleClient(creds.bsale_token, shop.bsale_api_url, shop.bsale_credential_url, pace=bsale_pace),
        jumpseller=JumpsellerClient(creds.jumpseller_login, creds.jumpseller_auth_token, shop.jumpseller_api_url,
                                    pace=js_pace, bearer=AppToken(shop.shop_id, creds) if creds.oauth else None),
        facto=facto,
    )
    if impatient:
        for client in (ctx.bsale, ctx.jumpseller):
            client.timeout, client.retry_timeouts = IMPATIENT_TIMEOUT, False
    return ctx


# The shops an SQS batch has read (bridge/worker.py): its records were received together, so they act on the shop
# as it was when the batch began, and a burst of one shop's records costs one read of it, not one each.
_batch_shops: ContextVar[dict[str, Shop] | None] = ContextVar("batch_shops", default=None)


@contextmanager
def shops_read_once() -> Iterator[None]:
    """Inside, each shop is read from the table once (a batch); outside, on every `read_shop`."""
    token = _batch_shops.set({})
    try:
        yield
    finally:
        _batch_shops.reset(token)


def read_shop(shop_id: str) -> Shop:
    read = _batch_shops.get()
    if read is None:
        return shops.require(shop_id)
    if shop_id not in read:
        read[shop_id] = shops.require(shop_id)
    return read[shop_id]


def open_shop(shop_id: str, *, bulk: bool = False, webhook: bool = False, impatient: bool = False) -> ShopContext:
    shop = read_shop(shop_id)
    if shop.disconnected_at is not None:  # the app was removed: Jumpseller must not be called for it
        raise ShopDisconnected(f"shop '{shop_id}' is disconnected: {shop.disconnected_reason}")
    return clients_for(shop, secrets.get(shop_id), bulk=bulk, webhook=webhook, impatient=impatient)
