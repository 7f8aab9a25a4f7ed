"""Facto's PDF and XML of a document, kept in the stack's bucket: Facto's links expire after 30 days.

Each document gets an unguessable name (`<32 random bytes, base64url>.pdf` / `.xml`); the stack serves it at
`GET /documents/<name>` (functions/document_files) with a short-lived S3 link made on each request, so the URL
given to Jumpseller keeps working for as long as the file is kept. Presigned URLs alone would not do: they last
7 days at most.

Keeping the files never blocks the document: a download or upload that fails is logged, the document keeps
Facto's own link, and a later follow-up (retry-order) tries again while Facto's links still work.
"""

from __future__ import annotations

import re
import secrets
from typing import TYPE_CHECKING

from bridge import aws
from bridge.errors import UpstreamError
from bridge.observability import logger
from bridge.settings import settings

if TYPE_CHECKING:  # annotations only: the file route (functions/document_files) needs no order models (issue 12)
    from bridge.models.order_record import IssuedDocument

PREFIX = "documents/"
KINDS = {"pdf": ("dte_pdf", "application/pdf"), "xml": ("dte_xml", "application/xml")}
NAME = re.compile(r"^[A-Za-z0-9_-]{40,64}\.(pdf|xml)$")


def keep(shop_id: str, order_id: int, document: IssuedDocument) -> dict[str, str]:
    """Download the document's PDF and XML from Facto and store them; kind → stored name ({} if not kept)."""
    # Imported on first use: the order worker's cold start and the file route need no Facto client (issue 12).
    from bridge.clients import facto

    bucket = settings().documents_bucket
    if not bucket:
        return {}
    token = secrets.token_urlsafe(32)
    kept: dict[str, str] = {}
    for kind, (link, content_type) in KINDS.items():
        url = document.links.get(link)
        if not url:
            continue
        name = f"{token}.{kind}"
        try:
            body = facto.download(url)
            aws.client("s3").put_object(Bucket=bucket, Key=PREFIX + name, Body=body, ContentType=content_type,
                                        Metadata={"shop": shop_id, "order": str(order_id),
                                                  "folio": str(document.number or "")})
        except (UpstreamError, OSError) as exc:
            logger.warning("Facto file not kept (Facto's link is used meanwhile)",
                           extra={"kind": kind, "reason": str(exc)[:200]})
            continue
        except Exception as exc:  # botocore errors: the document exists, keeping its file can wait
            logger.warning("Facto file not stored", extra={"kind": kind, "reason": type(exc).__name__})
            continue
        kept[kind] = name
    return kept


def public_url(webhook_url: str | None, name: str | None) -> str | None:
    """The stack's lasting link to a kept file (the API base is where the shop's Jumpseller hooks point)."""
    if not webhook_url or not name:
        return None
    return f"{webhook_url.removesuffix('/jumpseller/webhooks')}/documents/{name}"


def link_for(webhook_url: str | None, document: IssuedDocument) -> str | None:
    """The link the shop and its customer get: the kept PDF, else Facto's own (30 days), else Bsale's."""
    return public_url(webhook_url, document.files.get("pdf")) or document.url_pdf


def presigned(name: str, *, seconds: int = 300) -> str | None:
    """A short-lived link to a kept file, or None when the name is not one of ours or nothing is kept under it."""
    bucket = settings().documents_bucket
    if not bucket or not NAME.match(name):
        return None
    s3 = aws.client("s3")
    try:
        s3.head_object(Bucket=bucket, Key=PREFIX + name)
    except Exception:  # botocore ClientError 404 / 403: not ours
        return None
    url: str = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": PREFIX + name},
                                         ExpiresIn=seconds)
    return url
