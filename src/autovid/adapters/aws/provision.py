"""Create the AWS resources autovid needs in an emulator (moto, LocalStack) or a sandbox account.

In production the SAM template creates them; this mirrors its shape (bucket; jobs queue with a
dead-letter queue and a redrive policy; jobs table with the owner index and TTL) for local runs
and tests. See ``emulator.py`` for a ready-made local endpoint.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from autovid.adapters.aws.clients import AwsClients
from autovid.adapters.aws.dynamo_batches import PARTITION_KEY as BATCHES_PARTITION_KEY
from autovid.adapters.aws.dynamo_batches import SORT_KEY as BATCHES_SORT_KEY
from autovid.adapters.aws.dynamo_batches import TTL_ATTRIBUTE as BATCHES_TTL_ATTRIBUTE
from autovid.adapters.aws.dynamo_jobs import (
    OWNER_INDEX,
    OWNER_INDEX_PARTITION,
    OWNER_INDEX_SORT,
    TABLE_KEY,
    TTL_ATTRIBUTE,
)


@dataclass(frozen=True)
class Resources:
    bucket: str
    queue_url: str
    dead_letter_queue_url: str
    table: str
    batches_table: str | None = None

    def environment(self) -> dict[str, str]:
        """The settings (environment variables) that point autovid at these resources."""
        variables = {
            "S3_BUCKET_NAME": self.bucket,
            "SQS_JOBS_QUEUE_URL": self.queue_url,
            "DYNAMODB_JOBS_TABLE_NAME": self.table,
        }
        if self.batches_table:
            variables["DYNAMODB_BATCHES_TABLE_NAME"] = self.batches_table
        return variables


def provision(
    clients: AwsClients,
    *,
    bucket: str,
    queue: str,
    table: str,
    region: str,
    max_receives: int = 3,
    visibility_timeout_s: int = 60,
    batches_table: str | None = None,
) -> Resources:
    create_bucket(clients.s3, bucket, region)
    dead_letter_url, queue_url = create_queues(
        clients.sqs, queue, max_receives=max_receives, visibility_timeout_s=visibility_timeout_s
    )
    create_table(clients.dynamodb, table)
    if batches_table:
        create_batches_table(clients.dynamodb, batches_table)
    return Resources(bucket, queue_url, dead_letter_url, table, batches_table)


def create_bucket(s3: Any, bucket: str, region: str) -> None:
    # us-east-1 is the one region that refuses a LocationConstraint.
    extra = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    s3.create_bucket(Bucket=bucket, **extra)


def create_queues(sqs: Any, name: str, *, max_receives: int, visibility_timeout_s: int) -> tuple[str, str]:
    """(dead-letter queue URL, jobs queue URL)."""
    dead_letter_url = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    dead_letter_arn = sqs.get_queue_attributes(QueueUrl=dead_letter_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    redrive = {"deadLetterTargetArn": dead_letter_arn, "maxReceiveCount": str(max_receives)}
    queue_url = sqs.create_queue(
        QueueName=name,
        Attributes={
            "VisibilityTimeout": str(visibility_timeout_s),
            "RedrivePolicy": json.dumps(redrive),
        },
    )["QueueUrl"]
    return dead_letter_url, queue_url


def create_table(dynamodb: Any, table: str) -> None:
    dynamodb.create_table(
        TableName=table,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": TABLE_KEY, "AttributeType": "S"},
            {"AttributeName": OWNER_INDEX_PARTITION, "AttributeType": "S"},
            {"AttributeName": OWNER_INDEX_SORT, "AttributeType": "S"},
        ],
        KeySchema=[{"AttributeName": TABLE_KEY, "KeyType": "HASH"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": OWNER_INDEX,
                "KeySchema": [
                    {"AttributeName": OWNER_INDEX_PARTITION, "KeyType": "HASH"},
                    {"AttributeName": OWNER_INDEX_SORT, "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    )
    dynamodb.get_waiter("table_exists").wait(TableName=table, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    dynamodb.update_time_to_live(
        TableName=table, TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE}
    )


def create_batches_table(dynamodb: Any, table: str) -> None:
    """Templates and batches (``dynamo_batches.py``): ``pk`` + ``sk``, TTL ``expiresAt``."""
    dynamodb.create_table(
        TableName=table,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": BATCHES_PARTITION_KEY, "AttributeType": "S"},
            {"AttributeName": BATCHES_SORT_KEY, "AttributeType": "S"},
        ],
        KeySchema=[
            {"AttributeName": BATCHES_PARTITION_KEY, "KeyType": "HASH"},
            {"AttributeName": BATCHES_SORT_KEY, "KeyType": "RANGE"},
        ],
    )
    dynamodb.get_waiter("table_exists").wait(TableName=table, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    dynamodb.update_time_to_live(
        TableName=table, TimeToLiveSpecification={"Enabled": True, "AttributeName": BATCHES_TTL_ATTRIBUTE}
    )
