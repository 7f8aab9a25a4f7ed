"""Creating the template's tables, queues, parameters and secrets in moto, exactly as declared (idempotently)."""

from __future__ import annotations

import json
import logging
import secrets
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from devstack.template import (
    BUCKET_TYPE,
    QUEUE_TYPE,
    RULE_TYPE,
    SECRET_TYPE,
    SSM_TYPE,
    TABLE_TYPES,
    Resolver,
    Resource,
    Template,
)

log = logging.getLogger("devstack")

CREATABLE = (*TABLE_TYPES, QUEUE_TYPE, SSM_TYPE, SECRET_TYPE, RULE_TYPE, BUCKET_TYPE)

_QUEUE_ATTRIBUTES = (
    "ContentBasedDeduplication", "DeduplicationScope", "DelaySeconds", "FifoQueue", "FifoThroughputLimit",
    "KmsDataKeyReusePeriodSeconds", "KmsMasterKeyId", "MaximumMessageSize", "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds", "RedriveAllowPolicy", "RedrivePolicy", "SqsManagedSseEnabled",
    "VisibilityTimeout",
)  # fmt: skip


@dataclass
class QueueInfo:
    logical_id: str
    name: str
    url: str
    arn: str
    visibility_timeout: int
    fifo: bool
    dlq_arn: str | None = None
    max_receive_count: int | None = None


@dataclass
class TableInfo:
    logical_id: str
    name: str
    arn: str
    stream_arn: str | None = None


@dataclass
class RuleInfo:
    logical_id: str
    name: str
    arn: str
    properties: dict[str, Any]


@dataclass
class CreatedResources:
    tables: dict[str, TableInfo] = field(default_factory=dict)
    queues: dict[str, QueueInfo] = field(default_factory=dict)
    parameters: dict[str, str] = field(default_factory=dict)  # logical id -> SSM name
    secrets: dict[str, str] = field(default_factory=dict)  # logical id -> ARN
    rules: dict[str, RuleInfo] = field(default_factory=dict)
    buckets: dict[str, str] = field(default_factory=dict)  # logical id -> bucket name


def _str(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def _tags(props: Mapping[str, Any]) -> list[dict[str, str]]:
    tags = props.get("Tags") or []
    if isinstance(tags, dict):  # SAM resources take a map
        return [{"Key": str(k), "Value": _str(v)} for k, v in tags.items()]
    return [{"Key": str(t["Key"]), "Value": _str(t["Value"])} for t in tags if "Key" in t]


class ResourceCreator:
    """Creates every supported resource of ``template`` through boto3 clients pointed at moto."""

    def __init__(self, template: Template, resolver: Resolver, clients: Mapping[str, Any]) -> None:
        self.template = template
        self.resolver = resolver
        self.clients = clients
        self.created = CreatedResources()

    def create_all(self) -> CreatedResources:
        wanted = [r for r in self.template.of_type(*CREATABLE) if self.resolver.included(r)]
        for res in self.template.creation_order(wanted):
            props = self.resolver.resolve(res.properties)
            if res.type in TABLE_TYPES:
                self._table(res, props)
            elif res.type == QUEUE_TYPE:
                self._queue(res, props)
            elif res.type == SSM_TYPE:
                self._parameter(res, props)
            elif res.type == SECRET_TYPE:
                self._secret(res, props)
            elif res.type == BUCKET_TYPE:
                self._bucket(res, props)
            elif res.type == RULE_TYPE:
                name = self.resolver.physical_name(res.logical_id)
                arn = self.resolver.get_att(res.logical_id, "Arn")
                self.created.rules[res.logical_id] = RuleInfo(res.logical_id, name, arn, props)
        return self.created

    # -- DynamoDB ------------------------------------------------------------------------------------------------

    def _table(self, res: Resource, props: dict[str, Any]) -> None:
        ddb = self.clients["dynamodb"]
        name = self.resolver.physical_name(res.logical_id)
        if res.type == "AWS::Serverless::SimpleTable":
            key = props.get("PrimaryKey") or {"Name": "id", "Type": "String"}
            attr_type = {"String": "S", "Number": "N", "Binary": "B"}.get(str(key.get("Type", "String")), "S")
            props = {
                "KeySchema": [{"AttributeName": key["Name"], "KeyType": "HASH"}],
                "AttributeDefinitions": [{"AttributeName": key["Name"], "AttributeType": attr_type}],
                **({"ProvisionedThroughput": props["ProvisionedThroughput"]} if "ProvisionedThroughput" in props
                   else {"BillingMode": "PAY_PER_REQUEST"}),
                **{k: v for k, v in props.items() if k in ("SSESpecification", "Tags")},
            }  # fmt: skip
        billing = str(props.get("BillingMode", "PROVISIONED"))
        if "BillingMode" not in props and "ProvisionedThroughput" not in props:
            billing = "PAY_PER_REQUEST"
        kwargs: dict[str, Any] = {
            "TableName": name,
            "KeySchema": props["KeySchema"],
            "AttributeDefinitions": props["AttributeDefinitions"],
            "BillingMode": billing,
        }
        if billing == "PROVISIONED":
            kwargs["ProvisionedThroughput"] = _throughput(props.get("ProvisionedThroughput"))
        for key, cfn_key in (("GlobalSecondaryIndexes", "GlobalSecondaryIndexes"),
                             ("LocalSecondaryIndexes", "LocalSecondaryIndexes")):  # fmt: skip
            indexes = []
            for index in props.get(cfn_key) or []:
                index = {k: v for k, v in index.items() if k in ("IndexName", "KeySchema", "Projection",
                                                                   "ProvisionedThroughput")}  # fmt: skip
                if key == "GlobalSecondaryIndexes" and billing == "PROVISIONED":
                    index["ProvisionedThroughput"] = _throughput(index.get("ProvisionedThroughput"))
                else:
                    index.pop("ProvisionedThroughput", None)
                indexes.append(index)
            if indexes:
                kwargs[key] = indexes
        stream = props.get("StreamSpecification")
        if stream and stream.get("StreamViewType"):
            kwargs["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream["StreamViewType"]}
        if tags := _tags(props):
            kwargs["Tags"] = tags
        try:
            description = ddb.create_table(**kwargs)["TableDescription"]
            log.debug("created table %s", name)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ResourceInUseException":
                raise
            description = ddb.describe_table(TableName=name)["Table"]
            log.debug("table %s already exists", name)
        ttl = props.get("TimeToLiveSpecification")
        if ttl and str(ttl.get("Enabled", "false")).lower() == "true":
            try:
                ddb.update_time_to_live(
                    TableName=name,
                    TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]},
                )
            except ClientError as exc:  # already enabled on a reused table
                log.debug("TTL on %s: %s", name, exc)
        pitr = props.get("PointInTimeRecoverySpecification")
        if pitr and str(pitr.get("PointInTimeRecoveryEnabled", "false")).lower() == "true":
            try:
                ddb.update_continuous_backups(
                    TableName=name,
                    PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
                )
            except ClientError as exc:
                log.debug("point-in-time recovery on %s is not emulated: %s", name, exc)
        info = TableInfo(res.logical_id, name, description["TableArn"], description.get("LatestStreamArn"))
        self.resolver.set_ref(res.logical_id, name)
        self.resolver.set_attr(res.logical_id, "Arn", info.arn)
        if info.stream_arn:
            self.resolver.set_attr(res.logical_id, "StreamArn", info.stream_arn)
        self.created.tables[res.logical_id] = info

    # -- S3 ------------------------------------------------------------------------------------------------------

    def _bucket(self, res: Resource, props: dict[str, Any]) -> None:
        """The bucket, with the settings that change what code can do with it (versioning, public access block,
        encryption); the rest of its properties (ownership, lifecycle...) are not emulated."""
        s3 = self.clients["s3"]
        name = self.resolver.physical_name(res.logical_id)
        region = self.resolver.region
        try:
            if region == "us-east-1":
                s3.create_bucket(Bucket=name)
            else:
                s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": region})
            log.debug("created bucket %s", name)
        except ClientError as exc:
            if exc.response["Error"]["Code"] not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise
        if block := props.get("PublicAccessBlockConfiguration"):
            s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration={
                k: str(v).lower() == "true" for k, v in block.items()})
        if versioning := props.get("VersioningConfiguration"):
            s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": versioning.get("Status",
                                                                                                   "Suspended")})
        if encryption := props.get("BucketEncryption"):  # CloudFormation: a list of rules
            rules = [{"ApplyServerSideEncryptionByDefault": rule["ServerSideEncryptionByDefault"]}
                     for rule in encryption.get("ServerSideEncryptionConfiguration") or []]
            s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": rules})
        self.resolver.set_ref(res.logical_id, name)
        self.resolver.set_attr(res.logical_id, "Arn", f"arn:aws:s3:::{name}")
        self.created.buckets[res.logical_id] = name

    # -- SQS -----------------------------------------------------------------------------------------------------

    def _queue(self, res: Resource, props: dict[str, Any]) -> None:
        sqs = self.clients["sqs"]
        name = self.resolver.physical_name(res.logical_id)
        attributes = {key: _str(props[key]) for key in _QUEUE_ATTRIBUTES if key in props}
        fifo = attributes.get("FifoQueue", "false").lower() == "true"
        if not fifo:
            attributes.pop("FifoQueue", None)  # SQS rejects FifoQueue=false on a standard queue
        redrive = props.get("RedrivePolicy")
        if isinstance(redrive, str):
            redrive = json.loads(redrive)
        kwargs: dict[str, Any] = {"QueueName": name, "Attributes": attributes}
        if tags := _tags(props):
            kwargs["tags"] = {t["Key"]: t["Value"] for t in tags}
        try:
            url = sqs.create_queue(**kwargs)["QueueUrl"]
        except ClientError as exc:
            if exc.response["Error"]["Code"] not in ("QueueAlreadyExists", "QueueNameExists"):
                raise
            url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
            sqs.set_queue_attributes(QueueUrl=url, Attributes={k: v for k, v in attributes.items()
                                                               if k != "FifoQueue"})  # fmt: skip
            log.debug("queue %s already existed; attributes updated", name)
        got = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn", "VisibilityTimeout"])["Attributes"]
        info = QueueInfo(
            logical_id=res.logical_id,
            name=name,
            url=url,
            arn=got["QueueArn"],
            visibility_timeout=int(got.get("VisibilityTimeout", 30)),
            fifo=fifo,
            dlq_arn=redrive.get("deadLetterTargetArn") if redrive else None,
            max_receive_count=int(redrive["maxReceiveCount"]) if redrive and "maxReceiveCount" in redrive else None,
        )
        self.resolver.set_ref(res.logical_id, url)
        self.resolver.set_attr(res.logical_id, "QueueUrl", url)
        self.resolver.set_attr(res.logical_id, "Arn", info.arn)
        self.resolver.set_attr(res.logical_id, "QueueName", name)
        self.created.queues[res.logical_id] = info

    # -- SSM and Secrets Manager ---------------------------------------------------------------------------------

    def _parameter(self, res: Resource, props: dict[str, Any]) -> None:
        name = self.resolver.physical_name(res.logical_id)
        kwargs: dict[str, Any] = {
            "Name": name,
            "Value": _str(props.get("Value", "")),
            "Type": str(props.get("Type", "String")),
            "Overwrite": True,
        }
        if props.get("Description"):
            kwargs["Description"] = str(props["Description"])
        self.clients["ssm"].put_parameter(**kwargs)
        self.resolver.set_ref(res.logical_id, name)
        self.created.parameters[res.logical_id] = name

    def _secret(self, res: Resource, props: dict[str, Any]) -> None:
        sm = self.clients["secretsmanager"]
        name = self.resolver.physical_name(res.logical_id)
        value = props.get("SecretString")
        generate = props.get("GenerateSecretString")
        if value is None:
            length = int((generate or {}).get("PasswordLength", 32))
            password = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(length))
            if generate and generate.get("SecretStringTemplate") and generate.get("GenerateStringKey"):
                body = json.loads(generate["SecretStringTemplate"])
                body[generate["GenerateStringKey"]] = password
                value = json.dumps(body)
            else:
                value = password
        try:
            arn = sm.create_secret(Name=name, SecretString=_str(value))["ARN"]
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ResourceExistsException":
                raise
            arn = sm.describe_secret(SecretId=name)["ARN"]
        self.resolver.set_ref(res.logical_id, arn)
        self.resolver.set_attr(res.logical_id, "Id", arn)
        self.created.secrets[res.logical_id] = arn


def _throughput(value: Any) -> dict[str, int]:
    value = value or {}
    return {
        "ReadCapacityUnits": int(value.get("ReadCapacityUnits", 5)),
        "WriteCapacityUnits": int(value.get("WriteCapacityUnits", 5)),
    }
