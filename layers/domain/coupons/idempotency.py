"""Idempotency-Key: the first successful response to a key is remembered for 24 hours per
account and route, and replayed (with `Idempotent-Replayed: true`) to a retry with the same
body; a retry with another body is 422/4226, and one arriving while the first still runs is
409/4092. Refusals and errors are not remembered, so the retry runs for real.

One record shape (store: PK A#<account>#IK#<route>#<hash>), two ways to write it:
- create and create/bulk use powertools' idempotency utility (claim the key, run, store the
  response), with a persistence layer that goes through the store;
- redeem and cancel write the record inside their own transaction (`guard`), so the key costs
  no extra round trip and a retry can never count a second use.
"""

import hashlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from coupons import store
from coupons.errors import CouponError, ErrorCode, invalid_field

HEADER = "Idempotency-Key"
TTL_SECONDS = 24 * 60 * 60
# A claimed key whose request died (timeout, crash) is free again after this; it is longer than
# any function's timeout (template.yaml).
IN_PROGRESS_MS = 30_000
_KEY_SHAPE = re.compile(r"^[\x21-\x7e][\x20-\x7e]{0,254}$")


@dataclass(frozen=True)
class Replayed:
    """The remembered result of an earlier request with the same key and body."""

    result: Any


def checked_key(raw: str | None) -> str | None:
    """The request's Idempotency-Key (None when absent), or 4001 when it is not 1-255
    printable ASCII characters."""
    if raw is None:
        return None
    if not _KEY_SHAPE.fullmatch(raw):  # not match: "$" would accept a trailing newline
        raise invalid_field(HEADER, "must be 1 to 255 printable ASCII characters")
    return raw


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _body_hash(body: Mapping[str, Any]) -> str:
    return _hash(json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False))


def guard(
    account: str, route: str, key: str, body: Mapping[str, Any], result: Any
) -> dict[str, Any]:
    """The completed record to write in the same transaction as the effect it remembers."""
    return {
        "PK": store.idempotency_pk(account, route, _hash(key)),
        "status": "COMPLETED",
        "expiresAt": store.now_ms() // 1000 + TTL_SECONDS,
        "validation": _body_hash(body),
        "data": json.dumps(result, separators=(",", ":")),
    }


def replay(record: Mapping[str, Any], body: Mapping[str, Any]) -> Replayed:
    """What a request whose key already has `record` gets (see the module docstring)."""
    if record.get("validation") != _body_hash(body):
        raise CouponError(ErrorCode.IDEMPOTENCY_MISMATCH)
    if record.get("status") != "COMPLETED":
        raise CouponError(ErrorCode.IDEMPOTENCY_IN_PROGRESS)
    return Replayed(json.loads(str(record["data"])))


def remembered[T](
    route: str,
    account: str,
    key: str | None,
    body: Mapping[str, Any],
    operation: Callable[[str, Mapping[str, Any]], T],
) -> T | Replayed:
    """Run `operation(account, body)` once per key (through powertools), or plainly when
    there is no key. Powertools is imported on the first request that has a key."""
    if key is None:
        return operation(account, body)
    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig
    from aws_lambda_powertools.utilities.idempotency.base import IdempotencyHandler
    from aws_lambda_powertools.utilities.idempotency.exceptions import (
        IdempotencyAlreadyInProgressError,
        IdempotencyPersistenceLayerError,
        IdempotencyValidationError,
    )

    config = IdempotencyConfig(
        event_key_jmespath="key",
        payload_validation_jmespath="body",
        raise_on_no_idempotency_key=True,
        expires_after_seconds=TTL_SECONDS,
        hash_function="sha256",
        response_hook=lambda response, _record: Replayed(response),
    )
    config.register_lambda_context(_InProgressWindow())  # type: ignore[arg-type]
    handler = IdempotencyHandler(
        function=operation,
        function_payload={"key": key, "body": dict(body)},
        config=config,
        persistence_store=_store_layer()(account),
        key_prefix=route,
        function_args=(account, body),
        function_kwargs={},
    )
    try:
        return handler.handle()
    except IdempotencyAlreadyInProgressError:
        raise CouponError(ErrorCode.IDEMPOTENCY_IN_PROGRESS) from None
    except IdempotencyValidationError:
        raise CouponError(ErrorCode.IDEMPOTENCY_MISMATCH) from None
    except IdempotencyPersistenceLayerError as error:
        if isinstance(error.__cause__, CouponError):  # e.g. the store was throttled: 503
            raise error.__cause__ from None
        raise


class _InProgressWindow:
    """Stands in for the Lambda context powertools asks how long the claim on a key may last:
    IN_PROGRESS_MS, whatever the invocation's own deadline."""

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return IN_PROGRESS_MS


@cache
def _store_layer() -> type:
    """powertools' persistence layer over our store (defined on first use, like the import)."""
    from aws_lambda_powertools.utilities.idempotency import BasePersistenceLayer
    from aws_lambda_powertools.utilities.idempotency.exceptions import (
        IdempotencyItemAlreadyExistsError,
        IdempotencyItemNotFoundError,
    )
    from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord

    def to_record(item: Mapping[str, Any]) -> DataRecord:
        return DataRecord(
            idempotency_key=str(item["PK"]),
            status=str(item["status"]),
            expiry_timestamp=int(item["expiresAt"]),
            in_progress_expiry_timestamp=item.get("inProgressExpiresAt"),
            response_data=str(item.get("data", "")),
            payload_hash=str(item.get("validation", "")),
        )

    class StoreLayer(BasePersistenceLayer):
        def __init__(self, account: str) -> None:
            super().__init__()
            self.account = account

        def _pk(self, idempotency_key: str) -> str:
            route, _, key_hash = idempotency_key.rpartition("#")
            return store.idempotency_pk(self.account, route, key_hash)

        def _get_record(self, idempotency_key: str) -> DataRecord:
            item = store.get_idempotency_record(self._pk(idempotency_key))
            if item is None:
                raise IdempotencyItemNotFoundError
            return to_record(item)

        def _put_record(self, data_record: DataRecord) -> None:
            try:
                store.put_idempotency_record(
                    {
                        "PK": self._pk(data_record.idempotency_key),
                        "status": data_record.status,
                        "expiresAt": data_record.expiry_timestamp,
                        "inProgressExpiresAt": data_record.in_progress_expiry_timestamp,
                        "validation": data_record.payload_hash or "",
                    }
                )
            except store.KeyInUse as used:
                old = to_record(used.old)
                self._validate_payload(data_payload=data_record, stored_data_record=old)
                raise IdempotencyItemAlreadyExistsError(old_data_record=old) from None

        def _update_record(self, data_record: DataRecord) -> None:
            store.complete_idempotency_record(
                self._pk(data_record.idempotency_key),
                {
                    "status": data_record.status,
                    "expiresAt": data_record.expiry_timestamp,
                    "data": data_record.response_data or "",
                    "validation": data_record.payload_hash or "",
                },
            )

        def _delete_record(self, data_record: DataRecord) -> None:
            store.delete_idempotency_record(self._pk(data_record.idempotency_key))

    return StoreLayer
