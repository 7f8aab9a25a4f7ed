"""The one place that knows the table's key layout (single table, generic pk / sk and one GSI)."""

from __future__ import annotations

GSI1 = "gsi1"  # generic second index: shops by partition SHOPS, links by SKU
SHOPS_PARTITION = "SHOPS"


def shop(shop_id: str) -> dict[str, str]:
    return {"pk": f"SHOP#{shop_id}", "sk": "SHOP"}


def link(shop_id: str, variant_id: str) -> dict[str, str]:
    """A Bsale variant linked to a Jumpseller product or variant, keyed by the id notifications carry."""
    return {"pk": f"SHOP#{shop_id}", "sk": f"LINK#{variant_id}"}


def link_prefix() -> str:
    return "LINK#"


def sku_index(shop_id: str, sku: str) -> dict[str, str]:
    """Secondary key of a link item, to find it by SKU (orders and Jumpseller events speak SKU)."""
    return {"gsi1pk": f"SHOP#{shop_id}#SKU", "gsi1sk": sku}


def shops_index(shop_id: str) -> dict[str, str]:
    return {"gsi1pk": SHOPS_PARTITION, "gsi1sk": shop_id}


def event(shop_id: str, kind: str, ident: str) -> dict[str, str]:
    """A record of an event accepted but not acted upon yet (topics later issues handle)."""
    return {"pk": f"SHOP#{shop_id}", "sk": f"EVENT#{kind}#{ident}"}
