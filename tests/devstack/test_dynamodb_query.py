"""A Query on a table's own key costs what DynamoDB's does: its page of its partition, not the whole table."""

from __future__ import annotations

from typing import Any

import pytest


class _NoScan(dict):  # type: ignore[type-arg]
    """A table's partitions that may be looked up by key but not gone through (a whole-table scan)."""

    def values(self) -> Any:
        raise AssertionError("the Query went through every partition of the table")

    def __iter__(self) -> Any:
        raise AssertionError("the Query went through every partition of the table")

    def items(self) -> Any:
        raise AssertionError("the Query went through every partition of the table")


def test_a_query_reads_its_partition_alone_and_answers_as_before(monkeypatch: pytest.MonkeyPatch) -> None:
    import boto3
    from moto import mock_aws
    from moto.core.responses import BaseResponse
    from moto.dynamodb.models import dynamodb_backends
    from moto.dynamodb.models.dynamo_type import Item
    from moto.dynamodb.models.table import Table

    from devstack import moto_server

    moto_server.partition_dynamodb_query()
    moto_server.plain_dynamodb_projections()
    moto_server.plain_dynamodb_query_answers()
    with mock_aws():
        db = boto3.client("dynamodb", region_name="us-east-1")
        db.create_table(TableName="t", BillingMode="PAY_PER_REQUEST",
                        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                              {"AttributeName": "sk", "AttributeType": "S"}],
                        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                   {"AttributeName": "sk", "KeyType": "RANGE"}])  # fmt: skip
        for n in range(30):
            db.put_item(TableName="t", Item={"pk": {"S": "SHOP#a"}, "sk": {"S": f"LINK#{n:03d}"}, "n": {"N": str(n)}})
        db.put_item(TableName="t", Item={"pk": {"S": "SHOP#a"}, "sk": {"S": "RATE#bsale"}, "n": {"N": "99"}})
        for n in range(10):
            db.put_item(TableName="t", Item={"pk": {"S": "SHOP#b"}, "sk": {"S": f"LINK#{n:03d}"}, "n": {"N": "-1"}})
        rich = {"pk": {"S": "SHOP#c"}, "sk": {"S": "X"}, "n": {"N": "1.50"}, "b": {"BOOL": False}, "z": {"NULL": True},
                "l": {"L": [{"S": "a"}, {"N": "2"}]}, "m": {"M": {"x": {"S": "y"}, "w": {"N": "3"}}},
                "ss": {"SS": ["q", "p"]}, "other": {"S": "not asked"}}
        db.put_item(TableName="t", Item=rich)
        table = dynamodb_backends["123456789012"]["us-east-1"].tables["t"]
        monkeypatch.setattr(table, "items", _NoScan(table.items))

        def walked(*_: Any) -> Any:
            raise AssertionError("the answer went through moto's serializer, attribute by attribute")

        monkeypatch.setattr(BaseResponse, "serialized", walked)
        candidates: list[int] = []  # how many items of the partition each Query went through
        gathered = Table.all_items

        def counted(self: Any) -> Any:
            found = gathered(self)
            candidates.append(len(found))
            return found

        monkeypatch.setattr(Table, "all_items", counted)

        def pages(**extra: Any) -> list[list[str]]:
            got, start = [], None
            while True:
                answer = db.query(TableName="t", KeyConditionExpression="pk = :p AND begins_with(sk, :s)",
                                  ExpressionAttributeValues={":p": {"S": "SHOP#a"}, ":s": {"S": "LINK#"}},
                                  Limit=7, **extra, **({"ExclusiveStartKey": start} if start else {}))
                got.append([item["sk"]["S"] for item in answer["Items"]])
                start = answer.get("LastEvaluatedKey")
                if not start:
                    return got

        links = [f"LINK#{n:03d}" for n in range(30)]
        forward = pages()
        assert [sk for page in forward for sk in page] == links  # in order, each once, none of SHOP#b
        assert [len(page) for page in forward] == [7, 7, 7, 7, 2]
        assert max(candidates) <= 8  # a page's own items (and the next, for LastEvaluatedKey), not all 31
        backward = pages(ScanIndexForward=False)
        assert [sk for page in backward for sk in page] == links[::-1]
        only = db.query(TableName="t", KeyConditionExpression="pk = :p", ProjectionExpression="sk",
                        ExpressionAttributeValues={":p": {"S": "SHOP#a"}})["Items"]
        assert [item["sk"]["S"] for item in only] == [*links, "RATE#bsale"]
        assert all(set(item) == {"sk"} for item in only)
        def converted(*_: Any) -> Any:
            raise AssertionError("the projection turned the whole item into plain values and back")

        monkeypatch.setattr(Item, "to_regular_json", converted)
        picked = db.query(TableName="t", KeyConditionExpression="pk = :p",
                          ProjectionExpression="n, b, z, l, m, ss, gone",
                          ExpressionAttributeValues={":p": {"S": "SHOP#c"}})["Items"]
        assert picked == [{k: v for k, v in rich.items() if k in {"n", "b", "z", "l", "m", "ss"}}]
        monkeypatch.undo()  # moto's own projection of paths needs it
        nested = db.query(TableName="t", KeyConditionExpression="pk = :p", ProjectionExpression="m.x, l[1]",
                          ExpressionAttributeValues={":p": {"S": "SHOP#c"}})["Items"]
        assert nested == [{"m": {"M": {"x": {"S": "y"}}}, "l": {"L": [{"N": "2"}]}}]  # paths: moto's own
        assert db.query(TableName="t", KeyConditionExpression="pk = :p",
                        ExpressionAttributeValues={":p": {"S": "SHOP#none"}})["Items"] == []


def _links_table(db: Any, count: int) -> None:
    db.create_table(TableName="t", BillingMode="PAY_PER_REQUEST",
                    AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                          {"AttributeName": "sk", "AttributeType": "S"}],
                    KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                               {"AttributeName": "sk", "KeyType": "RANGE"}])  # fmt: skip
    for n in range(count):
        db.put_item(TableName="t", Item={"pk": {"S": "SHOP#a"}, "sk": {"S": f"LINK#{n:03d}"}, "n": {"N": str(n)}})


def test_a_write_does_not_wait_for_a_query_going_through_its_page(monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    import boto3
    from moto import mock_aws
    from moto.dynamodb.models.dynamo_type import Item

    from devstack import moto_server

    moto_server.as_aws()
    reader = "page-reader"
    in_page, go_on = threading.Event(), threading.Event()
    sized = Item.size

    def size(self: Item) -> int:  # moto sizes each candidate of the page, after gathering, before copying it
        if threading.current_thread().name == reader and not in_page.is_set():
            in_page.set()
            go_on.wait(10)
        return sized(self)

    monkeypatch.setattr(Item, "size", size)
    with mock_aws():
        db = boto3.client("dynamodb", region_name="us-east-1")
        _links_table(db, 30)
        answer: dict[str, Any] = {}

        def read() -> None:
            answer.update(boto3.client("dynamodb", region_name="us-east-1").query(
                TableName="t", KeyConditionExpression="pk = :p", Limit=10,
                ExpressionAttributeValues={":p": {"S": "SHOP#a"}}))

        def write() -> None:
            other = boto3.client("dynamodb", region_name="us-east-1")
            other.update_item(TableName="t", Key={"pk": {"S": "SHOP#a"}, "sk": {"S": "LINK#003"}},
                              UpdateExpression="SET n = :n, extra = :x",
                              ExpressionAttributeValues={":n": {"N": "100"}, ":x": {"S": "new"}})
            other.put_item(TableName="t", Item={"pk": {"S": "SHOP#a"}, "sk": {"S": "LINK#004"}, "n": {"N": "-4"}})

        query = threading.Thread(target=read, name=reader)
        writes = threading.Thread(target=write)
        try:
            query.start()
            assert in_page.wait(10)
            writes.start()
            writes.join(5)
            assert not writes.is_alive(), "the writes waited for the Query to go through its page"
        finally:
            go_on.set()
            query.join(10)
            writes.join(10)
        page = {item["sk"]["S"]: item for item in answer["Items"]}
        assert list(page) == [f"LINK#{n:03d}" for n in range(10)]
        # The page holds each item as one version of it: an update changed a copy of what the Query had gathered
        assert page["LINK#003"] == {"pk": {"S": "SHOP#a"}, "sk": {"S": "LINK#003"}, "n": {"N": "3"}}
        assert page["LINK#004"]["n"] == {"N": "4"}
        now = db.get_item(TableName="t", Key={"pk": {"S": "SHOP#a"}, "sk": {"S": "LINK#003"}})["Item"]
        assert now["n"] == {"N": "100"} and now["extra"] == {"S": "new"}


def test_an_update_changes_a_copy_of_the_item_not_the_one_a_reader_holds() -> None:
    import boto3
    from moto import mock_aws
    from moto.dynamodb.models import dynamodb_backends
    from moto.dynamodb.models.dynamo_type import DynamoType

    from devstack import moto_server

    moto_server.as_aws()
    with mock_aws():
        db = boto3.client("dynamodb", region_name="us-east-1")
        _links_table(db, 3)
        partition = dynamodb_backends["123456789012"]["us-east-1"].tables["t"].items[DynamoType({"S": "SHOP#a"})]
        key = DynamoType({"S": "LINK#001"})
        held = partition[key]
        db.update_item(TableName="t", Key={"pk": {"S": "SHOP#a"}, "sk": {"S": "LINK#001"}},
                       UpdateExpression="SET n = n + :one, extra = :x REMOVE gone",
                       ExpressionAttributeValues={":one": {"N": "1"}, ":x": {"S": "new"}})
        assert held.to_json()["Attributes"] == {"pk": {"S": "SHOP#a"}, "sk": {"S": "LINK#001"}, "n": {"N": "1"}}
        assert partition[key] is not held
        assert partition[key].to_json()["Attributes"]["n"] == {"N": "2"}
        with pytest.raises(db.exceptions.ConditionalCheckFailedException):  # a refused update leaves it as it was
            db.update_item(TableName="t", Key={"pk": {"S": "SHOP#a"}, "sk": {"S": "LINK#001"}},
                           UpdateExpression="SET n = :n", ConditionExpression="attribute_not_exists(n)",
                           ExpressionAttributeValues={":n": {"N": "9"}})
        assert partition[key].to_json()["Attributes"]["n"] == {"N": "2"}


def test_a_query_answers_the_items_it_gathered_without_copying_them_and_sizes_each_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import boto3
    from moto import mock_aws
    from moto.dynamodb.models.dynamo_type import DynamoType

    from devstack import moto_server

    moto_server.as_aws()
    copies, sizes = [0], [0]
    copy_value, size_value = DynamoType.__deepcopy__, DynamoType.size

    def copied(self: DynamoType, memo: dict[int, Any]) -> DynamoType:
        copies[0] += 1
        return copy_value(self, memo)

    def sized(self: DynamoType) -> int:
        sizes[0] += 1
        return size_value(self)

    with mock_aws():
        db = boto3.client("dynamodb", region_name="us-east-1")
        _links_table(db, 30)  # three attributes each
        monkeypatch.setattr(DynamoType, "__deepcopy__", copied)
        monkeypatch.setattr(DynamoType, "size", sized)

        def page() -> list[dict[str, Any]]:
            return db.query(TableName="t", KeyConditionExpression="pk = :p", Limit=10,
                            ExpressionAttributeValues={":p": {"S": "SHOP#a"}})["Items"]  # type: ignore[no-any-return]

        first = page()
        assert [item["n"]["N"] for item in first] == [str(n) for n in range(10)]
        assert copies[0] == 0  # moto's copy of the page: 10 items x 5 values
        assert sizes[0] <= 11 * 3  # each item gathered sized once (moto: twice)
        db.update_item(TableName="t", Key={"pk": {"S": "SHOP#a"}, "sk": {"S": "LINK#002"}},
                       UpdateExpression="SET n = :n, note = :x",
                       ExpressionAttributeValues={":n": {"N": "7000"}, ":x": {"S": "y" * 100}})
        again = page()
        assert again[2] == {"pk": {"S": "SHOP#a"}, "sk": {"S": "LINK#002"}, "n": {"N": "7000"},
                            "note": {"S": "y" * 100}}
        assert again[:2] + again[3:] == first[:2] + first[3:]


def test_a_failed_transaction_rolls_back_in_the_table_a_query_already_looked_up() -> None:
    import boto3
    from moto import mock_aws
    from moto.dynamodb.models import dynamodb_backends

    from devstack import moto_server

    moto_server.as_aws()
    with mock_aws():
        db = boto3.client("dynamodb", region_name="us-east-1")
        _links_table(db, 3)
        backend = dynamodb_backends["123456789012"]["us-east-1"]
        looked_up = backend.tables["t"]  # as a Query's handler holds it, outside the lock
        with pytest.raises(db.exceptions.TransactionCanceledException):
            db.transact_write_items(TransactItems=[
                {"Update": {"TableName": "t", "Key": {"pk": {"S": "SHOP#a"}, "sk": {"S": "LINK#000"}},
                            "UpdateExpression": "SET n = :n", "ExpressionAttributeValues": {":n": {"N": "50"}}}},
                {"Update": {"TableName": "t", "Key": {"pk": {"S": "SHOP#a"}, "sk": {"S": "LINK#001"}},
                            "UpdateExpression": "SET n = :n", "ConditionExpression": "attribute_not_exists(n)",
                            "ExpressionAttributeValues": {":n": {"N": "51"}}}}])
        assert backend.tables["t"] is looked_up
        db.put_item(TableName="t", Item={"pk": {"S": "SHOP#a"}, "sk": {"S": "LINK#009"}, "n": {"N": "9"}})
        page = db.query(TableName="t", KeyConditionExpression="pk = :p",
                        ExpressionAttributeValues={":p": {"S": "SHOP#a"}})["Items"]
        assert [(item["sk"]["S"], item["n"]["N"]) for item in page] == [
            ("LINK#000", "0"), ("LINK#001", "1"), ("LINK#002", "2"), ("LINK#009", "9")]
