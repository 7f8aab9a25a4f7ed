"""F2: which SKUs link, and the reason for every one that does not."""

from bridge.models.jumpseller import Target
from bridge.sync.catalog import BsaleItem, JsItem, plan


def b(variant_id: str, sku: str | None, problem: str | None = None) -> BsaleItem:
    return BsaleItem(variant_id, sku, f"B {sku}", 1, False, False, problem)


def j(product_id: int, sku: str | None, variant_id: int | None = None) -> JsItem:
    return JsItem(sku, Target(product_id, variant_id), f"J {sku}", 1000, 1, False)


def test_clean_pairs_link_across_products_with_and_without_variants() -> None:
    result = plan([b("1", "A"), b("2", "B")], [j(10, "A"), j(11, "B", 111)])
    assert [(x.variant_id, y.target) for x, y in result.pairs] == [("1", Target(10)), ("2", Target(11, 111))]
    assert result.not_linked == []


def test_every_reason_is_reported_once_per_item() -> None:
    result = plan(
        [b("1", None), b("2", "DUP"), b("3", "DUP"), b("4", "JDUP"), b("5", "PACK", "pack in Bsale"),
         b("6", "OLD", "inactive in Bsale"), b("7", "ONLYB"), b("8", "OLD2", "inactive in Bsale"), b("9", "OLD2")],
        [j(20, "DUP"), j(21, "JDUP"), j(22, "JDUP"), j(23, "PACK"), j(24, None), j(25, "ONLYJ"), j(26, "OLD2")],
    )
    reasons = sorted((n.side, n.sku or '', n.reason) for n in result.not_linked)
    assert reasons == sorted([
        ("bsale", "", "no SKU in Bsale"),
        ("bsale", "DUP", "duplicate SKU in Bsale"),
        ("bsale", "DUP", "duplicate SKU in Bsale"),
        ("bsale", "JDUP", "duplicate SKU in Jumpseller"),
        ("bsale", "PACK", "pack in Bsale"),
        ("bsale", "OLD", "inactive in Bsale"),
        ("bsale", "ONLYB", "missing in Jumpseller"),
        ("bsale", "OLD2", "inactive in Bsale"),
        ("jumpseller", "", "no SKU in Jumpseller"),
        ("jumpseller", "ONLYJ", "missing in Bsale"),
    ])
    # An inactive variant never blocks the active one that took over its SKU
    assert [(x.variant_id, y.target.product_id) for x, y in result.pairs] == [("9", 26)]
    assert result.counts()["duplicate SKU in Bsale"] == 2
