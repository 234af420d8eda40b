"""Least privilege, checked on every request the functions send in the tests: while a test
calls a route's handler in-process, each DynamoDB request of that handler must be allowed by
its function's policy in template.yaml (action, and dynamodb:LeadingKeys: the partition key of
each item or of the queried index). A request the policy would not allow is refused the way
AWS refuses it (AccessDeniedException) and recorded, so the test that made it fails — a new
code path that needs another grant cannot reach production unnoticed (the template test alone
compares the policies with a table, not with what the code does)."""

import fnmatch
import re
from collections.abc import Iterator
from contextvars import ContextVar
from functools import cache
from typing import Any

from botocore.exceptions import ClientError

from devstack.template import load_template

CALLER: ContextVar[str | None] = ContextVar("CALLER", default=None)  # a function's logical id
VIOLATIONS: list[str] = []

# A transaction's items, by the action IAM authorizes each as.
_TRANSACT_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}


@cache
def grants(function: str) -> tuple[tuple[str, str, bool], ...]:
    """(action, LeadingKeys pattern, on the indexes) the function's policy allows on the
    table (its statements on the webhook queue are not DynamoDB's)."""
    properties = load_template()["Resources"][function]["Properties"]
    allowed = []
    for policy in properties.get("Policies", []):
        for statement in policy["Statement"]:
            if not all(action.startswith("dynamodb:") for action in statement["Action"]):
                continue  # the webhook queue's (sqs:...): not a DynamoDB request
            on_indexes = "index" in str(statement["Resource"])
            patterns = statement["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"]
            for action in statement["Action"]:
                for pattern in patterns:
                    allowed.append((action.removeprefix("dynamodb:"), pattern, on_indexes))
    return tuple(allowed)


def _pk(attributes: dict[str, Any]) -> str:
    return str(attributes["PK"]["S"])


def _query_partition(params: dict[str, Any]) -> str:
    """The partition key value a Query reads: the first `name = :value` of its key condition."""
    condition = str(params["KeyConditionExpression"])
    match = re.match(r"\s*(#?\w+)\s*=\s*(:\w+)", condition)
    assert match, condition
    return str(params["ExpressionAttributeValues"][match.group(2)]["S"])


def requested(operation: str, params: dict[str, Any]) -> Iterator[tuple[str, str, bool]]:
    """What IAM authorizes for one request: (action, leading key, on an index) each."""
    if operation in {"GetItem", "UpdateItem", "DeleteItem"}:
        yield operation, _pk(params["Key"]), False
    elif operation == "PutItem":
        yield operation, _pk(params["Item"]), False
    elif operation == "BatchGetItem":
        for request in params["RequestItems"].values():
            for key in request["Keys"]:
                yield operation, _pk(key), False
    elif operation == "TransactWriteItems":
        for item in params["TransactItems"]:
            ((kind, action),) = item.items()
            yield _TRANSACT_ACTIONS[kind], _pk(action.get("Key") or action["Item"]), False
    elif operation == "Query":
        yield operation, _query_partition(params), "IndexName" in params
    else:
        yield operation, "?", False


def check(model: Any, params: dict[str, Any], **_: Any) -> None:
    """botocore's provide-client-params hook (the request's API parameters): refuse what the calling function may not do."""
    function = CALLER.get()
    if function is None:  # the test itself (setup, reading the table back), not a function
        return
    allowed = grants(function)
    for action, leading_key, on_index in requested(model.name, params):
        if not any(
            action == granted and on_index == indexes and fnmatch.fnmatchcase(leading_key, pattern)
            for granted, pattern, indexes in allowed
        ):
            denied = f"{function} may not {action} on {leading_key!r} (template.yaml policy)"
            VIOLATIONS.append(denied)
            raise ClientError(
                {"Error": {"Code": "AccessDeniedException", "Message": denied}}, model.name
            )


def watch_every_client() -> None:
    """Register `check` on each DynamoDB client the functions create from now on."""
    from coupons.store import client as store_client

    create = store_client._client

    def watched(*args: Any, **kwargs: Any) -> Any:
        made = create(*args, **kwargs)
        made.meta.events.register("provide-client-params.dynamodb", check)
        return made

    store_client._client = watched
