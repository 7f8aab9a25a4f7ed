"""The stock path (sync/stock.py, sync/push.py, the claims in store/links.py) with the orderings that matter
forced one by one: DynamoDB in memory (moto), Bsale and Jumpseller sandboxes on loopback, no queues.

A "worker" here is a call of the real code; overlapping workers are made by running one inside another's
Jumpseller write (the window between its claim and its record), or by taking an older version by hand.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest

from bridge import aws
from bridge.clients.http import RateLimited
from bridge.models.bsale import BsaleNotification
from bridge.store import held, links
from bridge.store.links import Link
from bridge.sync import catalog, linking, manual, price, push, reconcile, stock
from bridge.sync.jobs import Budget
from sandboxes.bsale import BsaleSandbox
from sandboxes.jumpseller import JumpsellerSandbox
from tests.unit.orders.conftest import table  # noqa: F401  (fixture)
from tests.unit.sandbox_shop import SandboxShop, new_shop, quick, sandboxes  # noqa: F401  (fixtures)


class World(SandboxShop):
    def variant(self, sku: str) -> str:
        found = self.account.variant_by_code(sku)
        assert found is not None, sku
        return str(found.id)

    def link(self, sku: str, **flags: bool) -> Link:
        found = self.store.find_sku(sku)
        assert found is not None, sku
        product, js_variant = found
        holder: Any = js_variant or product
        link = Link(shop_id=self.shop_id, variant_id=self.variant(sku), sku=sku, js_product_id=product.id,
                    js_variant_id=js_variant.id if js_variant else None, js_name=product.name,
                    js_price=float(holder.price), pushed_stock=None if holder.stock_unlimited else int(holder.stock),
                    pushed_unlimited=holder.stock_unlimited, **flags)
        links.save(link)
        return self.saved(sku)

    def saved(self, sku: str) -> Link:
        found = links.get(self.shop_id, self.variant(sku))
        assert found is not None
        return found

    def set_bsale(self, sku: str, quantity: float) -> None:
        self.account.set_stock(int(self.variant(sku)), self.ctx.shop.office_id, quantity)

    def shown(self, sku: str) -> int:
        found = self.store.find_sku(sku)
        assert found is not None
        product, variant = found
        return int((variant or product).stock)

    def price_shown(self, sku: str) -> float:
        found = self.store.find_sku(sku)
        assert found is not None
        product, variant = found
        return float((variant or product).price)

    def puts(self) -> int:
        return sum(1 for r in self.js.requests if r.credential == self.store.login and r.method == "PUT")

    def notify(self, sku: str) -> stock.Outcome:
        """What the catalog worker does with a stock notification of the shop's office."""
        return stock.on_stock_notification(self.ctx, BsaleNotification.model_validate({
            "cpnId": self.account.cpn_id, "resource": "/v2/stocks.json", "resourceId": self.variant(sku),
            "topic": "stock", "action": "put", "officeId": str(self.ctx.shop.office_id)}))

    def order(self, sku: str, qty: int) -> int:
        """A customer's order in Jumpseller (it takes the units), and its order_pending_payment acted on."""
        found = self.store.find_sku(sku)
        assert found is not None
        product, variant = found
        order_id = int(self.store.create_order([(product.id, variant.id if variant else None, qty)]).id)
        assert held.hold(self.shop_id, order_id, {self.variant(sku): qty}, {self.variant(sku): sku}, 0)
        stock.after_order_event(self.ctx, order_id)
        return order_id


@pytest.fixture
def world(table: str, sandboxes: tuple[BsaleSandbox, JumpsellerSandbox]) -> Callable[..., World]:  # noqa: F811
    bsale, js = sandboxes

    def make(**options: Any) -> World:
        return new_shop(World, bsale, js, "push", 7000, **options)

    return make


def during_next_write(w: World, monkeypatch: pytest.MonkeyPatch, act: Callable[[], Any]) -> list[Any]:
    """Run `act` inside the next Jumpseller write, before that write's PUT is sent (so the PUT lands after
    whatever `act` wrote): the window between a worker's claim and its record."""
    original = w.ctx.jumpseller.write
    done: list[Any] = []
    started: list[bool] = []  # `act` may write too: its own writes go straight through

    def write(*args: Any, **kwargs: Any) -> None:
        if not started:
            started.append(True)
            done.append(act())
        original(*args, **kwargs)

    monkeypatch.setattr(w.ctx.jumpseller, "write", write)
    return done


# ------------------------------------------------------------------------------------------------ the claims


def test_a_claim_goes_only_to_a_later_read_and_recording_needs_the_claim_to_still_stand(
    world: Callable[..., World]
) -> None:
    w = world()
    link = w.link("POL-S")
    assert links.claim(link, "stock", 200)
    assert not links.claim(link, "stock", 100)  # an older read
    assert not links.claim(link, "stock", 200)  # the same read twice
    assert links.claim(link, "price", 100)  # each kind has its own claim
    assert not links.record_if_claimed(link, {"stock": 100}, {"pushed_stock": 1})
    assert links.record_if_claimed(link, {"stock": 200}, {"pushed_stock": 2})
    assert links.claim(link, "stock", 300)
    assert not links.record_if_claimed(link, {"stock": 200}, {"pushed_stock": 3})  # lost between claim and record
    assert w.saved("POL-S").pushed_stock == 2
    assert not links.record_if_claimed(link, {}, {"pushed_stock": 4}, unchanged={"price": 99})
    assert links.record_if_claimed(link, {}, {"pushed_stock": 4}, unchanged={"price": 100})
    links.delete(w.shop_id, link.variant_id)
    assert not links.claim(link, "stock", 400)  # unlinked meanwhile: nobody writes


def test_a_relink_does_not_lower_the_claims(world: Callable[..., World]) -> None:
    w = world()
    link = w.link("POL-S")
    assert links.claim(link, "stock", 500)
    links.save(link)  # e.g. a Jumpseller product event re-making the link from an older reading
    assert not links.claim(link, "stock", 400)


# ------------------------------------------------------------------------------------ the first push of a link


def product_event(w: World, sku: str, event: str = "product_created") -> str:
    """What the catalog worker does with a Jumpseller product webhook for the product with `sku`."""
    found = w.store.find_sku(sku)
    assert found is not None
    return linking.on_jumpseller_product(w.ctx, event, {"product": found[0].to_json(w.store.currency)})


def quota_spent_once(monkeypatch: pytest.MonkeyPatch, owner: object, method: str) -> None:
    """The shop's quota runs out at the next `owner.method` call (the worker hands the event back to the queue)."""
    original, calls = getattr(owner, method), []

    def spent(*args: Any, **kwargs: Any) -> Any:
        if not calls:
            calls.append(1)
            raise RateLimited(0.2)
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, method, spent)


@pytest.mark.parametrize("stops_at", ["bsale read", "jumpseller write"])
def test_a_link_made_by_an_event_that_stopped_before_its_push_is_pushed_when_the_event_comes_back(
    world: Callable[..., World], monkeypatch: pytest.MonkeyPatch, stops_at: str
) -> None:
    w = world()
    w.store.add_product("Preventa", sku="PRE-1", stock=7, price=15990, notify=False)  # Bsale: 0, sells without
    owner, method = (w.ctx.bsale, "available_stock") if stops_at == "bsale read" else (w.ctx.jumpseller, "write")
    quota_spent_once(monkeypatch, owner, method)
    # The product webhook links PRE-1, then the shop's quota runs out before Bsale's stock reaches Jumpseller
    with pytest.raises(RateLimited):
        product_event(w, "PRE-1")
    assert w.saved("PRE-1") and w.shown("PRE-1") == 7
    # The same event, handed back by the queue (or its twin product_updated), finds the link already there
    assert "PRE-1: stock 7 → 0" in product_event(w, "PRE-1")
    assert w.shown("PRE-1") == 0 and w.saved("PRE-1").pushed_stock == 0 and w.puts() == 1
    # From then on a product event (our own write coming back) writes nothing
    assert product_event(w, "PRE-1", "product_updated").endswith("links up to date") and w.puts() == 1


def test_a_twin_event_arriving_while_the_new_link_is_being_pushed_leaves_bsales_stock(
    world: Callable[..., World], monkeypatch: pytest.MonkeyPatch
) -> None:
    w = world()
    w.store.add_product("Preventa", sku="PRE-1", stock=7, price=15990, notify=False)
    # product_updated is handled while product_created, which made the link, is writing its first push
    twin = during_next_write(w, monkeypatch, lambda: product_event(w, "PRE-1", "product_updated"))
    product_event(w, "PRE-1")
    assert twin and w.shown("PRE-1") == 0
    saved = w.saved("PRE-1")
    assert saved.pushed_stock == 0 and not saved.first_push_due
    assert w.puts() <= 2  # both may write the same 0: neither can know the other will finish
    assert product_event(w, "PRE-1", "product_updated").endswith("links up to date") and w.puts() <= 2


def test_a_new_link_whose_stock_already_agrees_is_not_written(world: Callable[..., World]) -> None:
    w = world()
    w.store.add_product("Preventa", sku="PRE-1", stock=0, price=15990, notify=False)
    assert "PRE-1: already stock 0" in product_event(w, "PRE-1")
    assert product_event(w, "PRE-1", "product_updated").endswith("links up to date")
    assert w.puts() == 0 and w.shown("PRE-1") == 0


# ------------------------------------------------------------------------------------------------ stock path


def test_a_stock_notification_writes_only_when_jumpseller_would_differ(world: Callable[..., World]) -> None:
    w = world()
    w.link("TAZA-1")  # Jumpseller shows 20
    w.set_bsale("TAZA-1", 20)
    assert w.notify("TAZA-1").action == "unchanged" and w.puts() == 0
    w.set_bsale("TAZA-1", 12)
    assert w.notify("TAZA-1").action == "written"
    assert w.shown("TAZA-1") == 12 and w.saved("TAZA-1").pushed_stock == 12 and w.puts() == 1
    assert w.notify("TAZA-1").action == "unchanged" and w.puts() == 1


def test_a_stock_notification_reads_its_link_through_the_claim_and_stops_unread_when_a_newer_one_stands(
    world: Callable[..., World]
) -> None:
    """The claim returns the link as it stands (one DynamoDB call on the live path, not a read then a claim), and
    a newer read's claim already standing settles it before Bsale is asked."""
    w = world()
    w.link("TAZA-1")  # Jumpseller shows 20
    w.set_bsale("TAZA-1", 12)
    calls: list[tuple[str, str]] = []

    def count(params: dict[str, Any], event_name: str, **_: Any) -> None:
        calls.append((event_name.rsplit(".", 1)[-1], str((params.get("Key") or {}).get("sk", {}).get("S", ""))))

    aws.client("dynamodb").meta.events.register("before-parameter-build.dynamodb", count)
    assert w.notify("TAZA-1").action == "written" and w.shown("TAZA-1") == 12
    assert [op for op, sk in calls if sk.startswith("LINK#")] == ["UpdateItem", "UpdateItem"]  # claim, record
    assert links.claim(w.saved("TAZA-1"), "stock", push.version() + 60 * 10**9)  # a newer read is under way
    w.set_bsale("TAZA-1", 7)
    reads = len(w.bsale.requests)
    outcome = w.notify("TAZA-1")
    assert outcome.action == "superseded" and len(w.bsale.requests) == reads and w.shown("TAZA-1") == 12


def test_an_older_read_arriving_after_a_newer_one_writes_nothing(world: Callable[..., World]) -> None:
    w = world()
    link = w.link("POL-S")
    older = push.version()  # a worker began reading (Bsale then said 4)...
    w.set_bsale("POL-S", 9)
    assert w.notify("POL-S").action == "written"  # ...and a later worker read 9 and wrote it first
    change = push.sync(w.ctx, link, stock=push.Truth(4, older))
    assert change.action == "superseded" and change.fields == {}
    assert change.note == "a newer read of this variant decides"  # from memory: no second look at Jumpseller
    assert w.shown("POL-S") == 9 and w.puts() == 1


def test_a_write_that_loses_its_claim_before_recording_looks_again_and_the_newest_truth_stays(
    world: Callable[..., World], monkeypatch: pytest.MonkeyPatch
) -> None:
    w = world()
    w.link("POL-M")
    w.set_bsale("POL-M", 4)

    def newer_worker() -> stock.Outcome:
        # Between the older worker's claim and its PUT, Bsale moves and a newer worker writes first
        w.set_bsale("POL-M", 7)
        monkeypatch.undo()  # the newer worker's own write is not intercepted
        return w.notify("POL-M")

    newer = during_next_write(w, monkeypatch, newer_worker)
    older = w.notify("POL-M")
    assert newer[0].action == "written"
    # The older PUT (4) landed last; its record found the claim gone, so it read Jumpseller again and fixed it
    assert older.action == "written" and "overlapped" in older.detail
    assert w.shown("POL-M") == 7 and w.saved("POL-M").pushed_stock == 7
    assert w.puts() == 3  # newer 7, older 4, repair 7


def test_a_held_change_between_reading_the_link_and_writing_is_seen_by_the_later_reader(
    world: Callable[..., World], monkeypatch: pytest.MonkeyPatch
) -> None:
    w = world()
    w.link("POL-S")  # Jumpseller 5
    w.set_bsale("POL-S", 10)
    # A stock notification reads the link (nothing held) and Bsale; before its PUT, an order takes 2
    during_next_write(w, monkeypatch, lambda: (monkeypatch.undo(), w.order("POL-S", 2)))
    w.notify("POL-S")
    assert w.shown("POL-S") == 8  # not the 10 of the read that did not know the order


def test_the_memory_compared_with_is_the_one_standing_when_the_claim_was_taken(world: Callable[..., World]) -> None:
    w = world()
    w.link("TAZA-1")  # Jumpseller 20
    w.set_bsale("TAZA-1", 20)
    w.order("TAZA-1", 2)  # Jumpseller 18 by itself; the order event remembers 18
    assert w.shown("TAZA-1") == 18 and w.saved("TAZA-1").pushed_stock == 18
    # A later worker read the link (2 held) just before that memory was recorded: it still says 20
    stale = w.saved("TAZA-1").model_copy(update={"pushed_stock": 20})
    started = push.version()
    w.set_bsale("TAZA-1", 22)  # 22 − 2 held = 20: equal to the stale memory, not to what Jumpseller shows
    assert push.sync(w.ctx, stale, stock=push.Truth(22, started)).action == "written"
    assert w.shown("TAZA-1") == 20


# ------------------------------------------------------------------------------------- Jumpseller's own moves


def test_jumpseller_taking_and_giving_back_units_is_read_not_assumed(world: Callable[..., World]) -> None:
    w = world()
    w.link("POL-S")
    w.set_bsale("POL-S", 10)
    w.notify("POL-S")
    assert w.shown("POL-S") == 10 and w.puts() == 1
    order_id = w.order("POL-S", 2)  # Jumpseller itself: 8 = 10 − 2 held, nothing to write
    assert w.shown("POL-S") == 8 and w.puts() == 1 and w.saved("POL-S").pushed_stock == 8
    w.set_bsale("POL-S", 12)
    w.notify("POL-S")
    assert w.shown("POL-S") == 10 and w.puts() == 2
    w.store.cancel_order(order_id)  # Jumpseller gives the 2 back itself: 12
    assert held.release(w.shop_id, order_id, "canceled", 0)
    stock.after_order_event(w.ctx, order_id)
    assert w.shown("POL-S") == 12 and w.puts() == 2
    w.set_bsale("POL-S", 10)  # a point-of-sale sale of 2: 10 = what a stale memory (10) would have called unchanged
    w.notify("POL-S")
    assert w.shown("POL-S") == 10 and w.puts() == 3


def test_a_write_that_overwrote_jumpsellers_reservation_is_fixed_by_the_order_event(
    world: Callable[..., World]
) -> None:
    w = world()
    w.link("TAZA-1")
    w.set_bsale("TAZA-1", 20)
    found = w.store.find_sku("TAZA-1")
    assert found is not None
    order = w.store.create_order([(found[0].id, None, 3)])  # Jumpseller: 17; its webhook not yet acted on
    w.set_bsale("TAZA-1", 25)
    w.notify("TAZA-1")  # knows of no order yet: writes 25 over Jumpseller's reservation
    assert w.shown("TAZA-1") == 25
    held.hold(w.shop_id, order.id, {w.variant("TAZA-1"): 3}, {w.variant("TAZA-1"): "TAZA-1"}, 0)
    stock.after_order_event(w.ctx, order.id)
    assert w.shown("TAZA-1") == 22 and w.saved("TAZA-1").pushed_stock == 22


def test_an_order_events_read_of_jumpseller_is_not_lost_to_a_newer_decision_from_memory(
    world: Callable[..., World], monkeypatch: pytest.MonkeyPatch
) -> None:
    w = world()
    w.link("TAZA-1")  # Jumpseller 20, remembered
    w.set_bsale("TAZA-1", 20)
    found = w.store.find_sku("TAZA-1")
    assert found is not None
    order = w.store.create_order([(found[0].id, None, 2)])  # Jumpseller takes 2 itself: 18
    held.hold(w.shop_id, order.id, {w.variant("TAZA-1"): 2}, {w.variant("TAZA-1"): "TAZA-1"}, 0)
    original, newer = w.ctx.jumpseller.product, []

    def product(product_id: int) -> Any:
        if not newer:  # while the order event reads Jumpseller, Bsale goes to 22 and its notification is handled
            w.set_bsale("TAZA-1", 22)
            newer.append(w.notify("TAZA-1"))  # 22 − 2 = 20: what the memory (stale) says, so nothing written
        return original(product_id)

    monkeypatch.setattr(w.ctx.jumpseller, "product", product)
    stock.after_order_event(w.ctx, order.id)
    assert newer[0].action == "unchanged"
    assert w.shown("TAZA-1") == 20 and w.saved("TAZA-1").pushed_stock == 20


def test_stock_bsale_does_not_count_stays_unlimited_whatever_orders_do(world: Callable[..., World]) -> None:
    w = world()
    w.link("GIFT", untracked=True)
    found = w.store.find_sku("GIFT")
    assert found is not None
    w.store.update_product(found[0].id, stock_unlimited=False, stock=3)  # someone limited it in Jumpseller
    w.order("GIFT", 1)  # Jumpseller takes 1 (2 left); the order event reads it and makes it unlimited again
    assert w.store.product(found[0].id).stock_unlimited and w.puts() == 1
    w.order("GIFT", 5)
    assert w.store.product(found[0].id).stock_unlimited and w.puts() == 1


# -------------------------------------------------------------------------------------- one guard, every path


def test_a_reconcile_slice_that_read_before_a_live_change_cannot_undo_it(world: Callable[..., World]) -> None:
    w = world()
    w.link("POL-S")
    w.set_bsale("POL-S", 3)
    run = reconcile.Run(w.ctx, "run-1", {})  # the slice starts: it reads the links...
    stale = w.ctx.bsale.page  # ...and its stock page holds the 3 Bsale had then
    first_page = stale("/v1/stocks.json", 0, {"officeid": w.ctx.shop.office_id})
    w.set_bsale("POL-S", 11)
    assert w.notify("POL-S").action == "written"  # the live change lands meanwhile
    w.ctx.bsale.page = lambda *args, **kwargs: first_page  # type: ignore[method-assign]
    run.read(Budget(math.inf))  # Jumpseller's pages, then the stale stock page
    assert w.shown("POL-S") == 11 and run.cp["counts"].get("superseded") == 1


def test_a_price_read_before_a_newer_one_writes_nothing(world: Callable[..., World]) -> None:
    w = world(sync_price=True)
    link = w.link("TAZA-1")
    older = push.version()
    variant = int(w.variant("TAZA-1"))
    w.account.set_price(w.ctx.shop.price_list_id, variant, 5990)
    outcome = price.on_price_notification(w.ctx, BsaleNotification.model_validate({
        "cpnId": w.account.cpn_id, "resource": "/v2/price_lists.json", "resourceId": str(variant),
        "topic": "price", "action": "put", "priceListId": str(w.ctx.shop.price_list_id)}))
    assert outcome.action == "written" and w.price_shown("TAZA-1") == 5990
    assert push.sync(w.ctx, link, price=push.Truth(4990, older)).action == "superseded"
    assert w.price_shown("TAZA-1") == 5990


def test_a_manual_overwrite_of_an_older_reading_cannot_undo_a_live_change(world: Callable[..., World]) -> None:
    w = world()
    w.link("POL-M")
    w.set_bsale("POL-M", 2)
    stocks = manual._stocks(w.ctx)  # the overwrite read Bsale's stock: 2
    read_from = push.version() - 1
    w.set_bsale("POL-M", 6)
    w.notify("POL-M")
    found = w.store.find_sku("POL-M")
    assert found is not None
    pairs = [(b, j) for b in manual.catalog.read_bsale(w.ctx.bsale) if b.sku == "POL-M"
             for j in manual.catalog.read_jumpseller(w.ctx.jumpseller) if j.sku == "POL-M"]
    assert manual._overwrite(w.ctx, pairs, stocks, {}, read_from) == []
    assert w.shown("POL-M") == 6


def test_a_stock_write_to_a_product_that_may_have_carried_an_old_price_looks_again(
    world: Callable[..., World], monkeypatch: pytest.MonkeyPatch
) -> None:
    w = world(sync_price=True)
    w.link("TAZA-1")  # a product: its PUT carries the price the link remembers
    w.set_bsale("TAZA-1", 9)
    variant = int(w.variant("TAZA-1"))

    def price_change() -> None:
        monkeypatch.undo()
        w.account.set_price(w.ctx.shop.price_list_id, variant, 6990)
        price.on_price_notification(w.ctx, BsaleNotification.model_validate({
            "cpnId": w.account.cpn_id, "resource": "/v2/price_lists.json", "resourceId": str(variant),
            "topic": "price", "action": "put", "priceListId": str(w.ctx.shop.price_list_id)}))

    during_next_write(w, monkeypatch, price_change)
    w.notify("TAZA-1")  # its PUT carried the old 4990 after the price write of 6990
    assert w.price_shown("TAZA-1") == 6990 and w.shown("TAZA-1") == 9


def test_a_notification_from_another_office_is_dropped_unread(world: Callable[..., World]) -> None:
    w = world()
    w.link("TAZA-1")
    w.set_bsale("TAZA-1", 3)
    other = stock.on_stock_notification(w.ctx, BsaleNotification.model_validate({
        "cpnId": w.account.cpn_id, "resource": "/v2/stocks.json", "resourceId": w.variant("TAZA-1"),
        "topic": "stock", "action": "put", "officeId": str(w.ctx.shop.office_id + 1)}))
    assert other == stock.Outcome("dropped", f"office {w.ctx.shop.office_id + 1} is not the shop's office")
    assert w.shown("TAZA-1") == 20 and w.puts() == 0
    # a notification that names no office is the shop's
    unnamed = stock.on_stock_notification(w.ctx, BsaleNotification.model_validate({
        "cpnId": w.account.cpn_id, "resource": "/v2/stocks.json", "resourceId": w.variant("TAZA-1"),
        "topic": "stock", "action": "put"}))
    assert unnamed.action == "written" and w.shown("TAZA-1") == 3


def test_a_variant_that_cannot_be_linked_is_reported_not_written(world: Callable[..., World]) -> None:
    w = world()
    taza = w.account.variant_by_code("TAZA-1")
    assert taza is not None
    lonely = w.account.add_variant(taza.product_id, "ONLY-IN-BSALE")
    assert stock.sync_variant_stock(w.ctx, str(lonely.id)) == stock.Outcome("unlinked", "missing in Jumpseller")
    assert stock.resync_variant(w.ctx, str(lonely.id)) == stock.Outcome(
        "unlinked", f"variant {lonely.id} is not linked")
    assert w.puts() == 0


def test_an_order_event_resyncs_its_held_variants_and_its_linked_skus(world: Callable[..., World]) -> None:
    w = world()
    w.link("TAZA-1")
    w.link("POL-S")
    w.set_bsale("POL-S", 10)
    order_id = w.order("POL-S", 2)  # holds POL-S
    # Its SKUs name TAZA-1 too (linked now, never held); a SKU nobody linked is ignored
    assert held.order_variants(w.shop_id, order_id, ["TAZA-1", "NOT-LINKED"]) == sorted(
        [w.variant("POL-S"), w.variant("TAZA-1")])
    assert held.order_variants(w.shop_id, order_id) == [w.variant("POL-S")]
    w.set_bsale("TAZA-1", 7)
    outcomes = stock.after_order_event(w.ctx, order_id, ["TAZA-1"])
    assert sorted(o.action for o in outcomes) == ["unchanged", "written"]
    assert w.shown("TAZA-1") == 7


def test_a_pos_sale_resyncs_each_linked_variant_it_names(
    world: Callable[..., World], monkeypatch: pytest.MonkeyPatch,
) -> None:
    w = world()
    w.link("TAZA-1")
    w.link("POL-S")
    w.link("POL-M")
    w.set_bsale("TAZA-1", 5)
    before = w.shown("POL-S")
    w.set_bsale("POL-S", before - 1)
    gone = w.saved("POL-M")
    w.account.forget_variant(int(gone.variant_id), notify=False)  # linked, but gone from Bsale since
    # "0" is linked to nothing (and sorts first); TAZA-1 is named twice
    named = {"77": ["0", w.variant("TAZA-1"), w.variant("POL-S"), gone.variant_id, w.variant("TAZA-1")]}
    monkeypatch.setattr(w.ctx.bsale, "document_variant_ids", lambda document_id: named[document_id])

    def sale(office: int | None) -> stock.Outcome:
        return stock.on_document_notification(w.ctx, BsaleNotification.model_validate({
            "cpnId": w.account.cpn_id, "resource": "/v1/documents/77.json", "resourceId": "77",
            "topic": "document", "action": "post", **({"officeId": str(office)} if office else {})}))

    other = w.ctx.shop.office_id + 1
    assert sale(other) == stock.Outcome("dropped", f"office {other} is not the shop's office") and w.puts() == 0
    done = sale(w.ctx.shop.office_id)
    # TAZA-1 and POL-S written once each, POL-M dropped and unlinked, "0" skipped; the others still synced
    written = {w.variant("TAZA-1"): "TAZA-1: stock 20 → 5", w.variant("POL-S"): f"POL-S: stock {before} → {before - 1}"}
    assert done == stock.Outcome("written", "document 77: 3 linked variant(s); "
                                 + "; ".join(written[v] for v in sorted(written)))
    assert w.puts() == 2 and w.shown("TAZA-1") == 5 and w.shown("POL-S") == before - 1
    assert links.get(w.shop_id, gone.variant_id) is None
    assert [(r["variant_id"], r["reason"]) for r in links.unlinked_reasons(w.shop_id)] == [
        (gone.variant_id, "missing in Bsale")]
    assert sale(None) == stock.Outcome("unchanged", "document 77: 2 linked variant(s); ")


def test_a_fresh_read_that_loses_its_claim_looks_again_a_bounded_number_of_times(world: Callable[..., World]) -> None:
    w = world()
    link = w.link("POL-S")
    older = push.version()
    w.set_bsale("POL-S", 9)
    assert w.notify("POL-S").action == "written"  # a newer read took the claim
    product = w.ctx.jumpseller.product(link.js_product_id)
    observed = next(item for item in catalog.js_items(product) if item.target == link.target)
    # An order event's read of Jumpseller that lost: one repair left reads again; none left gives up (SQS retries)
    again = push.sync(w.ctx, link, stock=push.Truth(4, older), observed=observed, fresh=True, repairs=1)
    assert again.action == "superseded" and again.note.startswith("overlapped by a newer read; then POL-S")
    with pytest.raises(RuntimeError, match="POL-S: newer reads kept overlapping"):
        push.sync(w.ctx, link, stock=push.Truth(4, older), observed=observed, fresh=True, repairs=0)
    assert w.shown("POL-S") == 9


def test_each_repair_spends_one_of_the_budget_until_it_gives_up(
    world: Callable[..., World], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Newer reads that keep winning (every claim lost): the repairs nest, each with one fewer left, and end in an
    # error SQS retries later. A budget that did not shrink would recurse until the interpreter gave up.
    w = world()
    link = w.link("POL-S")
    product = w.ctx.jumpseller.product(link.js_product_id)
    observed = next(item for item in catalog.js_items(product) if item.target == link.target)
    monkeypatch.setattr(links, "claim", lambda *args, **kwargs: None)
    budgets: list[int] = []
    real_resync = push.resync

    def counting(ctx: Any, variant_id: str, *, repairs: int = push.REPAIRS) -> Any:
        budgets.append(repairs)
        return real_resync(ctx, variant_id, repairs=repairs)

    monkeypatch.setattr(push, "resync", counting)
    with pytest.raises(RuntimeError, match="POL-S: newer reads kept overlapping"):
        push.sync(w.ctx, link, stock=push.Truth(4, push.version()), observed=observed, fresh=True, repairs=3)
    assert budgets == [2, 1, 0]
    assert w.puts() == 0


def test_a_product_gone_from_jumpseller_is_unlinked_when_read_again(world: Callable[..., World]) -> None:
    w = world()
    link = w.link("TAZA-1")
    w.store.delete_product(link.js_product_id)
    assert stock.resync_variant(w.ctx, link.variant_id) == stock.Outcome(
        "unlinked", "TAZA-1: gone from Jumpseller: unlinked")
    assert links.get(w.shop_id, link.variant_id) is None
    assert [r["reason"] for r in links.unlinked_reasons(w.shop_id)] == [push.MISSING]


def test_a_variant_gone_from_a_product_that_stays_is_unlinked_when_read_again(world: Callable[..., World]) -> None:
    w = world()
    link = w.link("POL-S")
    assert link.js_variant_id is not None  # a variant of a product with others (POL-M stays)
    product = w.store.product(link.js_product_id)
    product.variants = [v for v in product.variants if v.id != link.js_variant_id]
    assert stock.resync_variant(w.ctx, link.variant_id) == stock.Outcome(
        "unlinked", "POL-S: gone from Jumpseller: unlinked")
    assert links.get(w.shop_id, link.variant_id) is None
    assert w.puts() == 0


def test_presale_makes_a_variant_bsale_sells_without_stock_unlimited_in_jumpseller(
    world: Callable[..., World],
) -> None:
    w = world(presale=True)
    w.link("POL-S", allow_negative=True)
    w.set_bsale("POL-S", 0)
    outcome = w.notify("POL-S")
    assert outcome.action == "written" and outcome.detail == "POL-S: unlimited"
    found = w.store.find_sku("POL-S")
    assert found is not None and (found[1] or found[0]).stock_unlimited
    again = w.notify("POL-S")
    assert again == stock.Outcome("unchanged", f"POL-S: already stock unlimited, price {w.price_shown('POL-S')}")
    # without pre-sale the same variant shows its stock
    plain = world()
    plain.link("POL-S", allow_negative=True)
    plain.set_bsale("POL-S", 0)
    assert plain.notify("POL-S").action == "written" and plain.shown("POL-S") == 0
