"""The hostile-input tests again, over HTTP on DynamoDB Local: the real engine must not turn
any accepted value into a 500 either (moto is more lenient than DynamoDB about some)."""

import pytest

from tests.unit.test_hostile_input import (  # noqa: F401 - collected here with these fixtures
    test_create_survives_any_value_in_any_field,
    test_query_parameters_survive_anything,
    test_redeem_survives_any_value_in_any_field,
    test_update_survives_any_value_in_any_field,
)

pytestmark = pytest.mark.integration
