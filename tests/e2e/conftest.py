"""Browser tests use `live_server` from tests/conftest.py."""
