"""F11: compare Bsale and Jumpseller for every linked product and fix the drift, page by page, resumably.

First check the shop's Jumpseller hooks (Jumpseller pauses or deletes hooks that keep failing) and register again
any that is missing. Then read both catalogs side by side, each API's pages in its own thread a few pages ahead
(sync/ahead.py), so each API's calls leave at its quota's pace while this thread works: every Jumpseller product
page (what the store shows), and meanwhile the price list pages (when prices are synced) then the office's stock
pages, and the shop's links from DynamoDB (only the attributes a comparison needs). Each stock row waits
(`pending`) until its link would be among those read (they come in variant id order), then (`ready`) until
Jumpseller's pages are all read; then its linked variant is fixed, the drifted ones several side by side. Those
fixes (Jumpseller writes) overlap the rest of Bsale's reading. Last, fix the linked variants Bsale listed no
stock for (their stock is 0). A fix is one write per product or variant, and only where Jumpseller differs.

Resumable: each page taken is kept, as a chunk (Jumpseller's pages, price pages) or in the checkpoint (stock rows
not fixed yet), and the checkpoint holds both positions. A slice whose budget is spent stops its readers, takes
the pages they had read and checkpoints; so does a slice that fails (a reader's error is raised here). A slice
resumes without reading a page twice, unless it crashed between two checkpoints.
"""

from __future__ import annotations

import contextvars
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from bridge.clients import jumpseller as jumpseller_api
from bridge.models.jumpseller import Target
from bridge.observability import logger, metrics
from bridge.shops.connect import ensure_hooks
from bridge.shops.context import ShopContext
from bridge.store import jobs, links
from bridge.store.links import Link
from bridge.sync import catalog, push
from bridge.sync.ahead import ReadAhead
from bridge.sync.catalog import JsItem
from bridge.sync.stock import Outcome

KIND = "reconcile"
CHECKPOINT_EVERY = 25  # steps (a page taken, or up to FIX_STEP rows looked at); a crash loses at most this much
FIXES_KEPT = 500  # fixes listed in the result (all are counted)
# Pages each reader may read before they are taken: Bsale's reader keeps going while this thread writes a batch
# of fixes (its quota units, booked ahead, would pass unspent if it stopped).
AHEAD = {"jumpseller": 4, "bsale": 16, "links": 4}
PENDING_MAX = 10_000  # stock rows kept waiting for the links and Jumpseller's pages (in the checkpoint too): then wait
FIX_STEP = 1000  # stock rows looked at per step, at most (comparing one costs no call)
# Drifted SKUs written side by side: a fix waits on DynamoDB and Jumpseller (about 0.2 s), so one at a time
# leaves Jumpseller's quota mostly unused; the quota still paces the writes. They go WRITES_AT_ONCE at a time, the
# units one quota write takes for bulk work (shops/context.py BULK_BATCH), so few of those units go unspent.
FIXERS = 4
WRITES_AT_ONCE = 8
NEXT = {"prices": "stocks", "stocks": "done"}  # Bsale's lists, in the order they are read


@dataclass(frozen=True)
class JsPage:
    page: int
    rows: list[list[Any]]  # [sku, product id, variant id, name, price, stock, unlimited] of each SKU shown
    more: bool


@dataclass(frozen=True)
class BsalePage:
    kind: str  # "prices" or "stocks"
    offset: int
    data: Any  # prices: {variant id: price}; stocks: [[variant id, available]] of the shop's office
    next_offset: int
    more: bool


@dataclass(frozen=True)
class LinksPage:
    links: list[Link]  # in the order of their variant ids as strings
    last: bool  # no page follows (an empty page ends the series)


class Run:
    """One reconcile run's working state, rebuilt from the checkpoint and chunks at each slice."""

    def __init__(self, ctx: ShopContext, run: str, checkpoint: dict[str, Any]) -> None:
        self.ctx, self.run = ctx, run
        self.cp = _upgrade(checkpoint, ctx.shop.options.sync_price) if checkpoint else {
            "phase": "hooks", "page": 1, "js_done": False, "bsale": "prices" if ctx.shop.options.sync_price
            else "stocks", "offset": 0, "pending": [], "seen": [], "fixes": [], "counts": {}, "started": time.time()}
        # Taken before this slice reads the links (their held units) and Bsale's stock pages: a live change read
        # after it wins over this slice's older reading (sync/push.py).
        self.version = push.version()
        # The links, read a page at a time beside the catalogs (`read`), or whole when first needed (`links`).
        # A stock row is decided once its link would be among those read: pages come in variant id order.
        self._links: dict[str, Link] = {}
        self._links_upto: str | None = None  # the last variant id read so far (None: none read)
        self._links_done = False
        self.observed: dict[str, JsItem] = {}
        for chunk in jobs.chunks(ctx.shop_id, KIND, run, "js#"):
            self._observe(chunk)
        self.prices: dict[str, float] = {}
        for chunk in jobs.chunks(ctx.shop_id, KIND, run, "pr#"):
            self.prices.update(chunk)
        self.seen: set[str] = set(self.cp["seen"])
        # Stock rows read and not fixed yet; read by an earlier slice, they keep that slice's (older) version.
        # `ready`: those whose link (or its absence) is known; `pending`: those waiting for more links.
        self.pending: deque[tuple[str, float]] = deque((str(v), float(q)) for v, q in self.cp["pending"])
        self.ready: deque[tuple[str, float]] = deque()
        self.drifted: list[tuple[str, float]] = []  # ready rows that need a write, set aside for the next batch
        self.pending_version: int = self.cp.get("pending_version") or self.version
        self.steps_since_checkpoint = 0
        self._lock = threading.Lock()  # counts and fixes: drifted SKUs are fixed side by side

    @property
    def links(self) -> dict[str, Link]:
        """Every link (only what the comparison needs: a drifted SKU's link is read again whole in `fix`)."""
        if not self._links_done:
            self._links = {link.variant_id: link for link in links.all_links(self.ctx.shop_id, links.COMPARED)}
            self._links_done = True
        return self._links

    def decided(self, variant_id: str) -> bool:
        """Whether this variant's link, if it has one, is among the links read."""
        return self._links_done or (self._links_upto is not None and variant_id <= self._links_upto)

    def waiting(self) -> int:
        return len(self.pending) + len(self.ready) + len(self.drifted)

    # -- bookkeeping -----------------------------------------------------------------------------------------
    def count(self, what: str, n: int = 1) -> None:
        with self._lock:
            self.cp["counts"][what] = self.cp["counts"].get(what, 0) + n

    def checkpoint(self, force: bool = False) -> None:
        self.steps_since_checkpoint += 1
        if force or self.steps_since_checkpoint >= CHECKPOINT_EVERY:
            rows = [list(row) for row in (*self.drifted, *self.ready, *self.pending)]
            self.cp.update(seen=sorted(self.seen), pending=rows, pending_version=self.pending_version if rows else None)
            jobs.save_checkpoint(self.ctx.shop_id, KIND, self.run, self.cp)
            self.steps_since_checkpoint = 0

    def _observe(self, rows: list[list[Any]]) -> None:
        for sku, product_id, variant_id, name, price, stock, unlimited in rows:
            self.observed[sku] = JsItem(sku, Target(product_id, variant_id), name, price, stock, unlimited)

    # -- reading (in the readers' threads: they touch no state of the run) ---------------------------------
    def links_read(self) -> Iterator[LinksPage]:
        # Only what the comparison needs: a drifted SKU's link is read again whole before its write (`fix`)
        for page in links.link_pages(self.ctx.shop_id, links.COMPARED):
            yield LinksPage(page, False)
        yield LinksPage([], True)

    def js_pages(self, page: int) -> Iterator[JsPage]:
        while True:
            products = self.ctx.jumpseller.products_page(page)
            rows = [[j.sku, j.target.product_id, j.target.variant_id, j.name, j.price, j.stock, j.unlimited]
                    for product in products for j in catalog.js_items(product) if j.sku]
            more = len(products) == jumpseller_api.PAGE_LIMIT
            yield JsPage(page, rows, more)
            if not more:
                return
            page += 1

    def bsale_pages(self, kind: str, offset: int) -> Iterator[BsalePage]:
        office = str(self.ctx.shop.office_id)
        while kind != "done":
            if kind == "prices":
                items, more = self.ctx.bsale.page(f"/v1/price_lists/{self.ctx.shop.price_list_id}/details.json",
                                                  offset)
                data: Any = {str(item["variant"]["id"]): float(item.get("variantValueWithTaxes") or 0)
                             for item in items}
            else:
                items, more = self.ctx.bsale.page("/v1/stocks.json", offset, {"officeid": office})
                # Only what a fix needs: the rows wait, maybe in the checkpoint, till Jumpseller's pages are read.
                data = [[str(row["variant"]["id"]), float(row.get("quantityAvailable") or 0)] for row in items
                        if str(row.get("office", {}).get("id", office)) == office]
            yield BsalePage(kind, offset, data, offset + len(items), more)
            offset += len(items)
            if not more:
                kind, offset = NEXT[kind], 0

    # -- taking what was read (this thread) ----------------------------------------------------------------
    def take(self, series: str, page: Any) -> None:
        """Keep a page read: only the one the checkpoint expects next (after a failed take, the rest is left)."""
        cp = self.cp
        if series == "links" and not self._links_done:
            self._links.update((link.variant_id, link) for link in page.links)
            if page.links:
                self._links_upto = page.links[-1].variant_id
            self._links_done = page.last
            still = deque[tuple[str, float]]()
            for row in self.pending:  # in Bsale's order: decided rows move on, the rest keep waiting
                (self.ready if self.decided(row[0]) else still).append(row)
            self.pending = still
        elif series == "jumpseller" and not cp["js_done"] and page.page == cp["page"]:
            jobs.put_chunk(self.ctx.shop_id, KIND, self.run, f"js#{page.page:06d}", page.rows, jobs.now())
            self._observe(page.rows)
            self.count("jumpseller_pages")
            cp.update(page=page.page + 1, js_done=not page.more)
        elif series == "bsale" and page.kind == cp["bsale"] and page.offset == cp["offset"]:
            if page.kind == "prices":
                jobs.put_chunk(self.ctx.shop_id, KIND, self.run, f"pr#{page.offset:08d}", page.data, jobs.now())
                self.prices.update(page.data)
            else:
                if not self.waiting():
                    self.pending_version = self.version
                for variant_id, available in page.data:
                    row = (str(variant_id), float(available))
                    (self.ready if self.decided(row[0]) else self.pending).append(row)
            self.count("bsale_pages")
            cp.update(bsale=cp["bsale"] if page.more else NEXT[page.kind],
                      offset=page.next_offset if page.more else 0)

    def fixable(self) -> bool:
        """Stock rows whose links are read can be fixed once Jumpseller's pages (and the prices) are all read."""
        if not self.cp["js_done"] or self.cp["bsale"] == "prices":
            return False
        return bool(self.ready) or len(self.drifted) >= WRITES_AT_ONCE or (bool(self.drifted) and self.all_read())

    def all_read(self) -> bool:
        """No stock row is still to come (nor any link to decide one)."""
        return self.cp["bsale"] == "done" and self._links_done

    def fix_pending(self, rows: int) -> None:
        """Look at the stock rows ready, `rows` at most: those in sync are done in line; the drifted ones are
        written side by side WRITES_AT_ONCE at a time (one batch of Jumpseller's quota), the last ones at the end."""
        looked = 0
        try:
            while self.ready and looked < rows and len(self.drifted) < WRITES_AT_ONCE:
                variant_id, available = self.ready[0]
                link = self._links.get(variant_id)
                if link is not None and variant_id not in self.seen:
                    if self.writes(link, available):
                        self.drifted.append((variant_id, available))
                    else:
                        self.fix(link, available, self.pending_version)
                        self.seen.add(variant_id)
                else:
                    self.seen.add(variant_id)
                self.ready.popleft()  # only once done or set aside: a fix that fails is tried again
                looked += 1
            if len(self.drifted) >= WRITES_AT_ONCE or (self.drifted and self.all_read() and not self.ready):
                self._fix_side_by_side(self.drifted)
        finally:
            self.drifted = [row for row in self.drifted if row[0] not in self.seen]

    def _fix_side_by_side(self, writes: list[tuple[str, float]]) -> None:
        """Fix each of these drifted variants (FIXERS at a time); each one fixed is seen. A failure is raised once
        the others are done."""
        if len(writes) <= 1:
            for variant_id, available in writes:
                self.fix(self._links[variant_id], available, self.pending_version)
                self.seen.add(variant_id)
            return
        # Imported here: concurrent.futures is ~20 ms of the sync worker's cold start (issue 12), for drifted SKUs.
        from concurrent.futures import ThreadPoolExecutor

        self.ctx.jumpseller.expect_calls()  # one batch of the quota's units, spent side by side
        with ThreadPoolExecutor(min(FIXERS, len(writes)), thread_name_prefix="reconcile fix") as pool:
            # Each in a copy of this context: the invocation's deadline (calls_end_by) goes along.
            futures = [(variant_id, pool.submit(contextvars.copy_context().run, self.fix, self._links[variant_id],
                                                available, self.pending_version))
                       for variant_id, available in writes]
        failure: BaseException | None = None
        for variant_id, future in futures:
            error = future.exception()
            if error is None:
                self.seen.add(variant_id)
            elif failure is None:
                failure = error
        if failure is not None:
            raise failure

    def read(self, budget: Any) -> None:
        """Read both catalogs side by side and fix on the way, until all is read and fixed or `budget` is spent."""
        cp = self.cp
        with ReadAhead[Any]() as ahead:
            if not cp["js_done"]:
                ahead.start("jumpseller", self.js_pages(cp["page"]), AHEAD["jumpseller"])
            if cp["bsale"] != "done":
                ahead.start("bsale", self.bsale_pages(cp["bsale"], cp["offset"]), AHEAD["bsale"])
            if not self._links_done:  # DynamoDB's pages of links, read meanwhile
                ahead.start("links", self.links_read(), AHEAD["links"])
            try:
                while not (cp["js_done"] and cp["bsale"] == "done" and not self.waiting() and self._links_done):
                    fixable = self.fixable()
                    # Stock rows wait for Jumpseller's pages in memory and in the checkpoint: not too many.
                    wanted = ["links", "jumpseller"] + (["bsale"] if fixable or self.waiting() < PENDING_MAX
                                                        else [])
                    got = ahead.take(wanted, wait=not fixable)
                    if got is not None:
                        self.take(*got)
                        if got[0] == "links":
                            continue  # not a step: the slice still owes one, however small its budget
                    elif fixable:
                        self.fix_pending(FIX_STEP)
                    else:
                        raise RuntimeError("the reconcile's readers stopped before their last page")
                    if budget.spent():
                        break
                    self.checkpoint()
                # No drifted row left set aside: a slice may end after a single step, before a batch fills up.
                self._fix_side_by_side(self.drifted)
                self.drifted = []
                ahead.stop()
                self._drain(ahead)
            except Exception:
                # Keep what was read and fixed, so the slice that takes over reads and writes nothing twice.
                ahead.stop()
                try:
                    self._drain(ahead)
                    self.checkpoint(force=True)
                except Exception:
                    logger.exception("reconcile: no checkpoint after a failure; the last one stands")
                raise

    def _drain(self, ahead: ReadAhead[Any]) -> None:
        """Take the pages the stopped readers had read (and the one each was reading)."""
        while True:
            try:
                got = ahead.take(["links", "jumpseller", "bsale"])
            except Exception:  # a reader failed meanwhile: its pages before the failure are taken all the same
                continue
            if got is None:
                return
            self.take(*got)

    def _price(self, link: Link) -> float | None:
        return self.prices.get(link.variant_id) if self.ctx.shop.options.sync_price else None

    def _differs(self, link: Link, available: float, observed: JsItem) -> bool:
        """Whether `push.sync` would claim and write (what Jumpseller shows differs, or the first push is due)."""
        fields, _ = push.changes_for(link, stock=push.desired_stock(self.ctx, link, available),
                                     price=self._price(link), observed=observed)
        return link.first_push_due or bool(fields)

    def writes(self, link: Link, available: float) -> bool:
        """Whether fixing this row writes to Jumpseller (the common case of `fix` that costs calls)."""
        observed = self.observed.get(link.sku)
        return observed is not None and observed.target == link.target and self._differs(link, available, observed)

    def fix(self, link: Link, available: float, version: int) -> None:
        """Make Jumpseller show Bsale's truth for this link. A drifted SKU's fix runs beside others' (each its own
        variant): what it changes of the run, counts and fixes, goes under the lock."""
        observed = self.observed.get(link.sku)
        if observed is None:
            links.record_unlinked(self.ctx.shop_id, link.variant_id, link.sku, "missing in Jumpseller")
            self.count("unlinked")
            return
        if observed.target != link.target:
            links.update_js_fields(link, js_product_id=observed.target.product_id,
                                   js_variant_id=observed.target.variant_id)
            link.js_product_id, link.js_variant_id = observed.target.product_id, observed.target.variant_id
        price = self._price(link)
        if self._differs(link, available, observed):
            # A write: `links` holds only what the comparison needs; the write path takes the link whole.
            whole = links.get(self.ctx.shop_id, link.variant_id)
            if whole is None:  # unlinked since the links were read
                return
            link = whole
        change = push.sync(self.ctx, link, stock=push.Truth(available, version),
                           price=push.Truth(price, self.cp.get("price_version") or self.version)
                           if price is not None else None, observed=observed)
        if change.action == "unchanged":
            read_at = self.cp.get("js_version")
            if read_at and (observed.name != link.js_name or not catalog_same(observed.price, link.js_price)):
                # Jumpseller's own name and price (product PUTs carry them), unless a price was claimed since
                # its pages were read.
                links.remember_shown(link, read_at, js_name=observed.name, js_price=observed.price)
            return
        if change.action == "superseded":
            self.count("superseded")
            return
        if change.action == "unlinked":  # gone from Jumpseller since its page was read
            self.count("unlinked")
            return
        self.count("fixed")
        with self._lock:
            if len(self.cp["fixes"]) < FIXES_KEPT:
                self.cp["fixes"].append(change.describe())


def _upgrade(cp: dict[str, Any], sync_price: bool) -> dict[str, Any]:
    """A checkpoint saved before both catalogs were read side by side (phases jumpseller, prices, stocks)."""
    phase = cp.get("phase")
    if phase in ("jumpseller", "prices", "stocks"):
        if phase == "jumpseller":  # Bsale not begun
            cp.update(bsale="prices" if sync_price else "stocks", offset=0, price_version=push.version())
        else:
            cp["bsale"] = phase
        cp.update(phase="read", js_done=phase != "jumpseller", pending=[])
    return cp


def check_hooks(ctx: ShopContext) -> list[str]:
    """Register again the hooks Jumpseller dropped; what was missing is reported in the run's result."""
    if not ctx.shop.webhook_url:
        return []
    restored = ensure_hooks(ctx.jumpseller, ctx.shop.webhook_url)
    if restored:
        metrics.add_metric(name="HooksRestored", unit=MetricUnit.Count, value=len(restored))
        logger.warning("Jumpseller hooks were missing and are registered again", extra={"events": restored})
    return restored


def catalog_same(a: float, b: float) -> bool:
    return abs(a - b) < 0.005


def run_slice(ctx: ShopContext, run_id: str, checkpoint: dict[str, Any], budget: Any) -> Outcome:
    run = Run(ctx, run_id, checkpoint)
    cp = run.cp
    while True:  # at least one step per slice, so even a tiny budget makes progress
        phase = cp["phase"]
        if phase == "hooks":
            cp["hooks_restored"] = check_hooks(ctx)
            # Before the first product page and the first price page are read
            cp.update(phase="read", js_version=push.version(), price_version=push.version())
        elif phase == "read":
            run.read(budget)
            if cp["js_done"] and cp["bsale"] == "done" and not run.waiting():
                cp["phase"] = "unseen"
        elif phase == "unseen":
            for variant_id, link in run.links.items():
                if variant_id not in run.seen:
                    run.fix(link, 0.0, run.version)  # Bsale lists no stock for it in this office: none to sell
                    run.seen.add(variant_id)
            cp["phase"] = "done"
        else:
            result = {"fixed": cp["counts"].get("fixed", 0), "fixes": cp["fixes"], "counts": cp["counts"],
                      "links": len(run.links), "seconds": round(time.time() - cp["started"], 1),
                      "hooks_restored": cp.get("hooks_restored", [])}
            jobs.finish(ctx.shop_id, KIND, run_id, result, jobs.now())
            return Outcome("done", f"{result['fixed']} fixed of {len(run.links)} linked")
        if budget.spent():
            break
        run.checkpoint()
    run.checkpoint(force=True)
    return Outcome("paused", f"phase {cp['phase']}; continues in a new slice")
