"""The conditional writes the exactly-once argument rests on, and held stock applied once per order."""

from __future__ import annotations

import threading
from decimal import Decimal

from bridge.models.order_record import OrderRecord, OrderState
from bridge.models.shop import Shop
from bridge.store import held, links, shops
from bridge.store import orders as records
from bridge.store.links import Link
from bridge.store.table import deserialize, serialize

SHOP = "tienda"
S = OrderState


def new_record(order_id: int = 7, state: OrderState = S.RECEIVED) -> OrderRecord:
    return OrderRecord(shop_id=SHOP, order_id=order_id, state=state, order={"id": order_id}, created_at=1)


def test_a_record_is_created_once(table: str) -> None:
    assert records.create(new_record())
    assert not records.create(new_record(state=S.CANCELED))
    stored = records.get(SHOP, 7)
    assert stored is not None and stored.state is S.RECEIVED


def test_only_one_of_many_concurrent_claims_wins(table: str, atomic_writes: None) -> None:
    records.create(new_record())
    wins: list[str] = []

    def claim(n: int) -> None:
        if records.claim(SHOP, 7, from_states=[S.RECEIVED], to=S.CREATING, attempt=f"a{n}", now=100):
            wins.append(f"a{n}")

    threads = [threading.Thread(target=claim, args=(n,)) for n in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wins) == 1
    record = records.get(SHOP, 7)
    assert record is not None and record.claim_id == wins[0] and record.state is S.CREATING


def test_an_in_flight_step_is_taken_over_only_by_its_own_claim_nobody_or_after_the_lease(table: str) -> None:
    records.create(new_record())
    records.claim(SHOP, 7, from_states=[S.RECEIVED], to=S.CREATING, attempt="m1", now=1000)
    # Another live attempt (a duplicate delivery) cannot take it
    assert records.take_over(SHOP, 7, state=S.CREATING, attempt="m2", now=1010, stale_before=900) is None
    # The same message coming back (its worker died) can
    assert records.take_over(SHOP, 7, state=S.CREATING, attempt="m1", now=1020, stale_before=900) is not None
    # After the lease anyone can (the operator's retry)
    taken = records.take_over(SHOP, 7, state=S.CREATING, attempt="cli", now=2000, stale_before=1500)
    assert taken is not None and taken.claim_id == "cli"
    # A holder that gave up on a retryable error lets anyone resume
    assert records.unclaim(SHOP, 7, attempt="cli", now=2001, sets={}) is not None
    assert records.take_over(SHOP, 7, state=S.CREATING, attempt="m3", now=2002, stale_before=0) is not None


def test_only_the_holder_settles_and_the_intent_is_dropped(table: str) -> None:
    records.create(new_record())
    records.claim(SHOP, 7, from_states=[S.RECEIVED], to=S.CREATING, attempt="m1", now=1,
                  sets={"intent": {"body": {"salesId": "js-tienda-7"}}})
    assert records.settle(SHOP, 7, attempt="m2", from_state=S.CREATING, to=S.CREATED, now=2) is None
    done = records.settle(SHOP, 7, attempt="m1", from_state=S.CREATING, to=S.CREATED, now=2, what="boleta 1")
    assert done is not None and done.state is S.CREATED and done.intent is None and done.claim_id is None
    assert [h["state"] for h in done.history] == ["creating", "created"]
    # and nothing moves a created record back into creation
    assert records.claim(SHOP, 7, from_states=[S.RECEIVED], to=S.CREATING, attempt="m3", now=3) is None


def link(variant_id: str, sku: str, held_units: int = 0) -> None:
    links.save(Link(shop_id=SHOP, variant_id=variant_id, sku=sku, js_product_id=1, held=held_units))


def held_of(variant_id: str) -> int:
    found = links.get(SHOP, variant_id)
    assert found is not None
    return found.held


def test_a_hold_is_applied_once_and_released_once(table: str) -> None:
    link("100", "POL-S")
    link("101", "TAZA-1")
    assert held.hold(SHOP, 1, {"100": 2, "101": 1}, {"100": "POL-S", "101": "TAZA-1"}, now=1)
    assert not held.hold(SHOP, 1, {"100": 2, "101": 1}, {}, now=2)  # duplicate pending event
    assert held.hold(SHOP, 2, {"100": 1}, {"100": "POL-S"}, now=3)
    assert held.held_by_sku(SHOP) == {"POL-S": 3, "TAZA-1": 1}
    assert held.release(SHOP, 1, "paid", now=4)
    assert not held.release(SHOP, 1, "canceled", now=5)  # a late cancel of the same order
    assert held.held_by_sku(SHOP) == {"POL-S": 1}
    assert [h["sk"] for h in held.active(SHOP)] == ["HOLD#2"]


def test_a_release_before_the_hold_makes_the_late_pending_event_a_no_op(table: str) -> None:
    link("100", "POL-S")
    assert not held.release(SHOP, 9, "paid", now=1)  # paid arrived first: nothing was held
    assert not held.hold(SHOP, 9, {"100": 2}, {"100": "POL-S"}, now=2)
    assert held_of("100") == 0


def test_concurrent_duplicate_holds_and_releases_count_once(table: str, atomic_writes: None) -> None:
    link("100", "POL-S")

    def run(target: object) -> None:
        threads = [threading.Thread(target=target) for _ in range(8)]  # type: ignore[arg-type]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    run(lambda: held.hold(SHOP, 3, {"100": 2}, {"100": "POL-S"}, now=1))
    assert held_of("100") == 2
    run(lambda: held.release(SHOP, 3, "canceled", now=2))
    assert held_of("100") == 0


def test_unlinked_variants_are_not_held_and_a_link_made_since_never_goes_negative(table: str) -> None:
    link("100", "POL-S")
    assert held.hold(SHOP, 4, {"100": 2, "999": 5}, {"100": "POL-S", "999": "NOPE"}, now=1)
    assert held_of("100") == 2
    stored = held.get(SHOP, 4)
    assert stored is not None and stored["lines"] == {"100": 2}
    link("100", "POL-S", held_units=0)  # the link was made again meanwhile (held back to 0)
    assert held.release(SHOP, 4, "abandoned", now=2)
    assert held_of("100") == 0


def test_a_line_of_no_units_holds_nothing(table: str) -> None:
    link("100", "POL-S")
    link("101", "TAZA-1")
    assert held.hold(SHOP, 5, {"100": 2, "101": 0}, {"100": "POL-S", "101": "TAZA-1"}, now=1)
    stored = held.get(SHOP, 5)
    assert stored is not None and stored["lines"] == {"100": 2}
    assert held.variant_ids_of(SHOP, 5) == ["100"]  # an order event re-reads only what the order holds


def test_why_each_variant_is_unlinked_is_kept_per_variant_until_it_is_linked(table: str) -> None:
    links.record_unlinked(SHOP, "200", "A", "missing in Jumpseller")
    links.record_unlinked(SHOP, "201", None, "no SKU in Bsale")
    links.record_unlinked("otra-tienda", "202", "C", "missing in Jumpseller")
    assert sorted((r["variant_id"], r["reason"]) for r in links.unlinked_reasons(SHOP)) == [
        ("200", "missing in Jumpseller"), ("201", "no SKU in Bsale")]
    link("200", "A")  # linked since: its reason goes
    assert [r["variant_id"] for r in links.unlinked_reasons(SHOP)] == ["201"]


def test_numbers_come_back_as_they_were_stored(table: str) -> None:
    # DynamoDB hands every number back as a Decimal: whole ones must read as int, the others keep their cents
    links.save(Link(shop_id=SHOP, variant_id="300", sku="X", js_product_id=9, js_price=1990.5, pushed_stock=3))
    found = links.get(SHOP, "300")
    assert found is not None
    assert (found.js_price, found.pushed_stock, found.js_product_id) == (1990.5, 3, 9)
    assert isinstance(found.pushed_stock, int)
    assert deserialize(serialize({"n": [Decimal("2"), {"m": Decimal("0.25")}]})) == {"n": [2, {"m": 0.25}]}
    assert type(deserialize(serialize({"n": 2}))["n"]) is int


def test_every_connected_shop_is_listed(table: str) -> None:
    for shop_id in ("tienda-a", "tienda-b"):
        shops.save(Shop(shop_id=shop_id, cpn_id=1, office_id=1, price_list_id=2), notify_hash="h")
    assert sorted(s.shop_id for s in shops.all_shops()) == ["tienda-a", "tienda-b"]
    found = shops.get("tienda-a")
    assert found is not None and found.price_list_id == 2
