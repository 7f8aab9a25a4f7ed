"""Each shop's secrets: one SSM SecureString per shop, cached for a few minutes per process."""

from __future__ import annotations

import json

from aws_lambda_powertools.utilities import parameters

from bridge import aws
from bridge.errors import UnknownShop
from bridge.models.shop import ShopSecrets
from bridge.settings import settings


def path(shop_id: str) -> str:
    return f"{settings().secrets_prefix}/shops/{shop_id}/credentials"


def put(shop_id: str, secrets: ShopSecrets) -> None:
    aws.client("ssm").put_parameter(
        Name=path(shop_id), Value=json.dumps(secrets.model_dump()), Type="SecureString", Overwrite=True
    )
    parameters.clear_caches()  # type: ignore[no-untyped-call]


def get(shop_id: str, *, fresh: bool = False) -> ShopSecrets:
    try:
        raw = parameters.get_parameter(
            path(shop_id), decrypt=True, max_age=0 if fresh else settings().secrets_max_age, force_fetch=fresh
        )
    except parameters.exceptions.GetParameterError as exc:
        raise UnknownShop(f"no credentials stored for shop '{shop_id}'") from exc
    return ShopSecrets.model_validate_json(str(raw))


def find(shop_id: str) -> ShopSecrets | None:
    try:
        return get(shop_id, fresh=True)
    except UnknownShop:
        return None
