"""Tests of the dev tooling (devstack/, openapi.yaml, pins): the gateway's tests need the
DynamoDB Local process that the integration tests start, re-exported here rather than copied."""

from tests.integration.conftest import local_dynamodb  # noqa: F401
