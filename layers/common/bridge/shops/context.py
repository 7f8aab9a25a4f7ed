"""Everything a worker needs to act for one shop: its settings, and API clients with its credentials."""

from __future__ import annotations

from dataclasses import dataclass

from bridge import secrets
from bridge.clients.bsale import BsaleClient
from bridge.clients.jumpseller import JumpsellerClient
from bridge.models.shop import Shop, ShopSecrets
from bridge.store import shops


@dataclass
class ShopContext:
    shop: Shop
    bsale: BsaleClient
    jumpseller: JumpsellerClient

    @property
    def shop_id(self) -> str:
        return self.shop.shop_id


def clients_for(shop: Shop, creds: ShopSecrets) -> ShopContext:
    return ShopContext(
        shop=shop,
        bsale=BsaleClient(creds.bsale_token, shop.bsale_api_url, shop.bsale_credential_url),
        jumpseller=JumpsellerClient(creds.jumpseller_login, creds.jumpseller_auth_token, shop.jumpseller_api_url),
    )


def open_shop(shop_id: str) -> ShopContext:
    return clients_for(shops.require(shop_id), secrets.get(shop_id))
