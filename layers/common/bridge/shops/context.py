"""Everything a worker needs to act for one shop: its settings, and API clients with its credentials."""

from __future__ import annotations

from dataclasses import dataclass

from bridge import secrets
from bridge.clients import bsale as bsale_api
from bridge.clients import facto as facto_api
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

# Each shop's share of the published limits (Bsale 8/s; Jumpseller 20/s and 800/min), one step below them, in
# any rolling window (bridge.store.rate). Both shares draw on one log per shop and API, each up to its own cap.
# Bulk jobs get less than webhooks, so a running reconcile always leaves room for the shop's live changes.
QUOTAS = {
    ("bsale", False): [Quota(1, 7)],
    ("bsale", True): [Quota(1, 5)],
    ("jumpseller", False): [Quota(1, 18), Quota(60, 760)],
    ("jumpseller", True): [Quota(1, 12), Quota(60, 600)],
}
# A webhook worker never sleeps on a shop's spent quota: it hands the message back (delayed) at once and takes
# the next one, which may be another shop's. Sleeping would let one shop's burst occupy every worker.
# Bulk jobs and operator commands have nothing better to do than wait their turn.
WEBHOOK_MAX_WAIT = 0.0
# Bulk work takes its quota units this many at a time (one table write for BULK_BATCH calls), spaced at its own
# pace over at most BULK_HOLD seconds; each unit counts only around its own slot (bridge.store.rate), so a batch
# holds back the shop's other calls no more than the same calls made one by one.
BULK_BATCH = {"bsale": 4, "jumpseller": 8}  # of bulk shares 5/s and 12/s: room left for a live change
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
    return SharedPace(local, shop.shop_id, api, QUOTAS[(api, bulk)], max_wait, rate.take,
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
    ctx = ShopContext(
        shop=shop,
        bsale=BsaleClient(creds.bsale_token, shop.bsale_api_url, shop.bsale_credential_url, pace=bsale_pace),
        jumpseller=JumpsellerClient(creds.jumpseller_login, creds.jumpseller_auth_token, shop.jumpseller_api_url,
                                    pace=js_pace, bearer=AppToken(shop.shop_id, creds) if creds.oauth else None),
        facto=facto_api.Credentials(creds.facto_user, creds.facto_key, shop.facto_url)
        if shop.options.document_provider == "facto" and creds.facto_user and creds.facto_key else None,
    )
    if impatient:
        for client in (ctx.bsale, ctx.jumpseller):
            client.timeout, client.retry_timeouts = IMPATIENT_TIMEOUT, False
    return ctx


def open_shop(shop_id: str, *, bulk: bool = False, webhook: bool = False, impatient: bool = False) -> ShopContext:
    shop = shops.require(shop_id)
    if shop.disconnected_at is not None:  # the app was removed: Jumpseller must not be called for it
        raise ShopDisconnected(f"shop '{shop_id}' is disconnected: {shop.disconnected_reason}")
    return clients_for(shop, secrets.get(shop_id), bulk=bulk, webhook=webhook, impatient=impatient)
