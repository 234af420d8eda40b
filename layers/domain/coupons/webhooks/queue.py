"""The queue between the events function and the sender (SQS, template.yaml): one message per
delivery to make, `{"account", "id"}`. Its client is made the first time it is needed, from a
session of its own (the store's session knows only DynamoDB)."""

import json
from functools import cache
from typing import Any

from coupons import containers, settings

# SQS's longest delay for a message sent; longer waits use the message's visibility.
MAX_SEND_DELAY_S = 900


@cache
def client() -> Any:
    import botocore.session
    from botocore.config import Config

    return botocore.session.get_session().create_client(
        "sqs",
        config=Config(
            connect_timeout=1,
            read_timeout=2,
            retries={"mode": "standard", "total_max_attempts": 2},
        ),
    )


containers.on_reset(client.cache_clear)


def enqueue(account: str, event_id: str, delay_s: int = 0) -> None:
    client().send_message(
        QueueUrl=settings.current().webhook_queue_url,
        MessageBody=json.dumps({"account": account, "id": event_id}),
        DelaySeconds=min(max(0, delay_s), MAX_SEND_DELAY_S),
    )


def wait(receipt: str, delay_s: int) -> None:
    """Make a received message visible again in `delay_s` (the next attempt's backoff)."""
    client().change_message_visibility(
        QueueUrl=settings.current().webhook_queue_url,
        ReceiptHandle=receipt,
        VisibilityTimeout=min(delay_s, 12 * 3600),
    )
