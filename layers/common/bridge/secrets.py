"""Each shop's secrets in SSM SecureStrings, cached for a few minutes per process.

Two parameters per shop, so each function can be allowed only what it needs (template.yaml scopes them):
- `{prefix}/shops/{shop}/credentials`: everything (Bsale and Jumpseller API tokens, hooks token, URL secret),
  read by the workers and operator commands;
- `{prefix}/shops/{shop}/hooks`: the Jumpseller hooks token alone, read by the internet-facing webhook function,
  which never holds the shop's API tokens.
`put` writes both (the credentials keep the hooks token too, so nothing that reads them changes); a shop connected
before the split gets its hooks parameter from `split_hooks` (`./dev admin migrate-secrets`) or a new connect.
"""

from __future__ import annotations

import json

from aws_lambda_powertools.utilities import parameters

from bridge import aws
from bridge.errors import UnknownShop
from bridge.models.shop import ShopSecrets
from bridge.settings import settings


def path(shop_id: str) -> str:
    return f"{settings().secrets_prefix}/shops/{shop_id}/credentials"


def hooks_path(shop_id: str) -> str:
    return f"{settings().secrets_prefix}/shops/{shop_id}/hooks"


def put(shop_id: str, secrets: ShopSecrets) -> None:
    ssm = aws.client("ssm")
    # The hooks parameter first: a shop whose credentials exist always has it too.
    ssm.put_parameter(Name=hooks_path(shop_id), Value=secrets.jumpseller_hooks_token, Type="SecureString",
                      Overwrite=True)
    ssm.put_parameter(Name=path(shop_id), Value=json.dumps(secrets.model_dump()), Type="SecureString", Overwrite=True)
    parameters.clear_caches()  # type: ignore[no-untyped-call]


def put_credentials(shop_id: str, secrets: ShopSecrets) -> None:
    """Only the credentials parameter: a refreshed OAuth token (F17) leaves the hooks token as it is."""
    aws.client("ssm").put_parameter(Name=path(shop_id), Value=json.dumps(secrets.model_dump()), Type="SecureString",
                                    Overwrite=True)
    parameters.clear_caches()  # type: ignore[no-untyped-call]


def hooks_token(shop_id: str) -> str:
    """The shop's Jumpseller hooks token, from its own parameter (the webhook function may read nothing else)."""
    try:
        raw = parameters.get_parameter(hooks_path(shop_id), decrypt=True, max_age=settings().secrets_max_age)
    except parameters.exceptions.GetParameterError as exc:
        raise UnknownShop(f"no hooks token stored for shop '{shop_id}'") from exc
    return str(raw)


def split_hooks(shop_id: str) -> bool:
    """Give a shop connected before the split its hooks parameter; False when it already had it (idempotent)."""
    try:
        aws.client("ssm").get_parameter(Name=hooks_path(shop_id), WithDecryption=False)
        return False
    except aws.client("ssm").exceptions.ParameterNotFound:
        pass
    current = get(shop_id, fresh=True)
    aws.client("ssm").put_parameter(Name=hooks_path(shop_id), Value=current.jumpseller_hooks_token,
                                    Type="SecureString", Overwrite=False)
    parameters.clear_caches()  # type: ignore[no-untyped-call]
    return True


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
