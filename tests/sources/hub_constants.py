"""Constants shared by the Hub tests (a module, not conftest: conftest modules share one name)."""

HUB_TOKEN = "hf_test_token_for_private"  # a fake token known to the fake Hub only
