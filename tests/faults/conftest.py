"""Fault tests run the services as processes, like the end-to-end tests, with the same fixtures."""

from tests.e2e.conftest import deploy, pytest_runtest_makereport, tap_for  # noqa: F401
