"""Each shop's secrets: the hooks token stands alone, so the internet-facing function never reads the API tokens."""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from bridge import aws, secrets
from bridge.errors import UnknownShop
from bridge.models.shop import ShopSecrets
from bridge.settings import settings


@pytest.fixture
def ssm(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("SECRETS_PREFIX", "/unit")
    settings.cache_clear()
    aws.reset()
    secrets.parameters.clear_caches()
    with mock_aws():
        yield boto3.client("ssm", region_name="us-east-1")
    secrets.parameters.clear_caches()
    aws.reset()
    settings.cache_clear()


def shop_secrets(**extra: str) -> ShopSecrets:
    return ShopSecrets(bsale_token="bsale-api-token", jumpseller_login="login", jumpseller_auth_token="js-api-token",
                       jumpseller_hooks_token="hooks-token", notify_token="shop.secret", **extra)


def test_put_writes_the_hooks_token_alone_beside_the_credentials(ssm) -> None:
    secrets.put("shop", shop_secrets())
    hooks = ssm.get_parameter(Name="/unit/shops/shop/hooks", WithDecryption=True)["Parameter"]
    assert hooks["Type"] == "SecureString"
    assert hooks["Value"] == "hooks-token"  # nothing else: no API token in what the webhook function reads
    assert secrets.hooks_token("shop") == "hooks-token"
    # The credentials keep everything, so every reader of them is unchanged.
    assert secrets.get("shop").jumpseller_hooks_token == "hooks-token"
    assert secrets.get("shop").bsale_token == "bsale-api-token"


def test_a_shop_without_hooks_parameter_is_unknown_to_the_webhook(ssm) -> None:
    with pytest.raises(UnknownShop):
        secrets.hooks_token("nobody")


def test_a_shop_connected_before_the_split_gets_its_hooks_parameter_once(ssm) -> None:
    # Written as the previous version did: the credentials only.
    ssm.put_parameter(Name="/unit/shops/old/credentials", Value=json.dumps(shop_secrets().model_dump()),
                      Type="SecureString")
    with pytest.raises(UnknownShop):
        secrets.hooks_token("old")
    assert secrets.split_hooks("old") is True
    assert secrets.hooks_token("old") == "hooks-token"
    assert secrets.split_hooks("old") is False  # idempotent


def test_fields_added_by_a_newer_version_survive_a_read_and_write_back(ssm) -> None:
    secrets.put("shop", shop_secrets(facto_api_key="facto-key"))
    again = secrets.get("shop", fresh=True)
    secrets.put("shop", again)
    stored = json.loads(ssm.get_parameter(Name="/unit/shops/shop/credentials", WithDecryption=True)
                        ["Parameter"]["Value"])
    assert stored["facto_api_key"] == "facto-key"
    assert "facto-key" not in repr(again)
