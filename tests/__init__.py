import pytest

# The shared rules in tests/helpers (the record contract, assert_problem) assert too: have
# pytest explain their failures as it does for test modules.
pytest.register_assert_rewrite("tests.helpers")
