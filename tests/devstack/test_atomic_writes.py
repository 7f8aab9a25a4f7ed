"""The local stack gives DynamoDB's guarantee: a conditional write is checked and applied as one step."""

from __future__ import annotations

import threading

from botocore.exceptions import ClientError

from devstack import LocalStack


def test_only_one_of_many_concurrent_conditional_claims_wins(stack: LocalStack) -> None:
    table = stack.table_name("Table")
    winners: list[int] = []
    start = threading.Barrier(16)

    def claim(n: int) -> None:
        client = stack.client("dynamodb")
        start.wait()
        for round_ in range(20):
            try:
                client.update_item(TableName=table, Key={"pk": {"S": f"claim-{round_}"}, "sk": {"S": "x"}},
                                   UpdateExpression="SET #by = :n, #count = if_not_exists(#count, :zero) + :one",
                                   ConditionExpression="attribute_not_exists(#by)",
                                   ExpressionAttributeNames={"#by": "by", "#count": "count"},
                                   ExpressionAttributeValues={":n": {"N": str(n)}, ":zero": {"N": "0"},
                                                              ":one": {"N": "1"}})
                winners.append(round_)
            except ClientError as exc:
                assert exc.response["Error"]["Code"] == "ConditionalCheckFailedException"

    threads = [threading.Thread(target=claim, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(winners) == list(range(20)), "each key must be claimed exactly once"
