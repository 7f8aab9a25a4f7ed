"""The Jumpseller app itself (F17): its OAuth client id and secret, and the key that signs panel sessions.

One SecureString for the deployment, `{SECRETS_PREFIX}/app/credentials` (JSON), put there once by the operator
from the app's page in Jumpseller; never in the template, the table or a log.
"""

from __future__ import annotations

import json

from aws_lambda_powertools.utilities import parameters
from pydantic import BaseModel, ConfigDict, Field

from bridge import aws
from bridge.clients.hosts import check_api_url
from bridge.clients.jumpseller_accounts import AccountsClient
from bridge.errors import ConfigurationError
from bridge.settings import settings


class AppCredentials(BaseModel):
    model_config = ConfigDict(extra="ignore", defer_build=True)

    client_id: str = Field(min_length=1)
    client_secret: str = Field(min_length=1)
    session_key: str = Field(min_length=32)  # signs panel sessions and OAuth states

    def __repr__(self) -> str:
        return "AppCredentials(***)"

    __str__ = __repr__


def path() -> str:
    return f"{settings().secrets_prefix}/app/credentials"


def put(credentials: AppCredentials) -> None:
    aws.client("ssm").put_parameter(Name=path(), Value=json.dumps(credentials.model_dump()), Type="SecureString",
                                    Overwrite=True)
    parameters.clear_caches()  # type: ignore[no-untyped-call]


def credentials() -> AppCredentials:
    try:
        raw = parameters.get_parameter(path(), decrypt=True, max_age=settings().secrets_max_age)
    except parameters.exceptions.GetParameterError as exc:
        raise ConfigurationError("the Jumpseller app's credentials are not configured") from exc
    return AppCredentials.model_validate_json(str(raw))


def accounts() -> AccountsClient:
    creds = credentials()
    url = check_api_url(settings().jumpseller_accounts_url, "jumpseller_accounts")
    return AccountsClient(url, creds.client_id, creds.client_secret)
