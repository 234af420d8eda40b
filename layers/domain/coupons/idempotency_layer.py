"""IdempotencyKey.run: powertools' idempotency utility (claim the key, run, store the answer)
over our store. Imported on the first request with an Idempotency-Key on create or
create/bulk, never at cold start (powertools' idempotency package costs ~40 ms).

The record is ours (IdempotencyRecord, store/idempotency.py); powertools names it
`<route>#<hash of the key>`, which becomes the account's key partition."""

from collections.abc import Callable

from aws_lambda_powertools.utilities.idempotency import BasePersistenceLayer, IdempotencyConfig
from aws_lambda_powertools.utilities.idempotency.base import IdempotencyHandler
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyItemAlreadyExistsError,
    IdempotencyItemNotFoundError,
    IdempotencyPersistenceLayerError,
    IdempotencyValidationError,
)
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord

from coupons.errors import CouponError, ErrorCode
from coupons.idempotency import IN_PROGRESS_MS, TTL_SECONDS, IdempotencyKey, Replayed
from coupons.records import IdempotencyRecord
from coupons.store import idempotency as records
from coupons.store.idempotency import KeyInUse
from coupons.store.keys import idempotency_pk


def run_once[T](key: IdempotencyKey, operation: Callable[[], T]) -> T | Replayed[T]:
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
        function_payload={"key": key.key, "body": dict(key.body)},
        config=config,
        persistence_store=_StoreLayer(key.account),
        key_prefix=key.route,
        function_args=(),
        function_kwargs={},
    )
    try:
        result: T | Replayed[T] = handler.handle()
    except IdempotencyAlreadyInProgressError:
        raise CouponError(ErrorCode.IDEMPOTENCY_IN_PROGRESS) from None
    except IdempotencyValidationError:
        raise CouponError(ErrorCode.IDEMPOTENCY_MISMATCH) from None
    except IdempotencyPersistenceLayerError as error:
        if isinstance(error.__cause__, CouponError):  # e.g. the store was throttled: 503
            raise error.__cause__ from None
        raise
    return result


class _InProgressWindow:
    """Stands in for the Lambda context powertools asks how long the claim on a key may last:
    IN_PROGRESS_MS, whatever the invocation's own deadline."""

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return IN_PROGRESS_MS


def _to_data_record(pk: str, record: IdempotencyRecord) -> DataRecord:
    return DataRecord(
        idempotency_key=pk,
        status=str(record["status"]),
        expiry_timestamp=int(record["expiresAt"]),
        in_progress_expiry_timestamp=record.get("inProgressExpiresAt"),
        response_data=str(record.get("data", "")),
        payload_hash=str(record.get("validation", "")),
    )


class _StoreLayer(BasePersistenceLayer):
    """powertools' persistence layer over store/idempotency.py, for one account."""

    def __init__(self, account: str) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # powertools leaves it untyped
        self.account = account

    def _pk(self, idempotency_key: str) -> str:
        route, _, key_hash = idempotency_key.rpartition("#")
        return idempotency_pk(self.account, route, key_hash)

    def _get_record(self, idempotency_key: str) -> DataRecord:
        pk = self._pk(idempotency_key)
        record = records.get(pk)
        if record is None:
            raise IdempotencyItemNotFoundError
        return _to_data_record(pk, record)

    def _put_record(self, data_record: DataRecord) -> None:
        pk = self._pk(data_record.idempotency_key)
        record: IdempotencyRecord = {
            "status": data_record.status,
            "expiresAt": int(data_record.expiry_timestamp or 0),
            "validation": data_record.payload_hash or "",
        }
        if data_record.in_progress_expiry_timestamp is not None:
            record["inProgressExpiresAt"] = data_record.in_progress_expiry_timestamp
        try:
            records.claim(pk, record)
        except KeyInUse as used:
            old = _to_data_record(pk, used.old)
            self._validate_payload(data_payload=data_record, stored_data_record=old)
            raise IdempotencyItemAlreadyExistsError(old_data_record=old) from None

    def _update_record(self, data_record: DataRecord) -> None:
        records.complete(
            self._pk(data_record.idempotency_key),
            {
                "status": data_record.status,
                "expiresAt": int(data_record.expiry_timestamp or 0),
                "data": data_record.response_data or "",
                "validation": data_record.payload_hash or "",
            },
        )

    def _delete_record(self, data_record: DataRecord) -> None:
        records.delete(self._pk(data_record.idempotency_key))
