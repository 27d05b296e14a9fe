"""One settings object per process, from ``OMNISTOCK_*`` variables (``omnistock.settings``)."""

from __future__ import annotations

import pytest

from engine.errors import ConfigError
from omnistock.settings import Settings


def test_defaults_without_variables():
    settings = Settings.from_env({})
    assert settings.topic_prefix == "omnistock."
    assert settings.engine().dedup_window_ms == 7 * 86_400_000
    assert settings.api_keys_path is None


def test_variables_are_typed_and_names_ignore_case():
    settings = Settings.from_env(
        {
            "OMNISTOCK_LOW_STOCK": "4",
            "omnistock_reorder_point": "9",
            "OMNISTOCK_API_TIMEOUT_S": "2.5",
            "OMNISTOCK_API_KEYS_FILE": "/etc/keys.json",
            "OMNISTOCK_UNKNOWN": "x",  # ignored
            "OMNISTOCK_TOPIC_PREFIX": "",  # empty: unset
            "PATH": "/bin",
        }
    )
    assert (settings.low_stock, settings.reorder_point) == (4, 9)
    assert settings.api_timeout_s == 2.5
    assert str(settings.api_keys_path) == "/etc/keys.json"
    assert settings.topic_prefix == "omnistock."
    assert settings.engine().low_stock == 4


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("OMNISTOCK_LOW_STOCK", "-1"),
        ("OMNISTOCK_DEDUP_WINDOW_S", "a week"),
        ("OMNISTOCK_API_TIMEOUT_S", "0"),
        ("OMNISTOCK_API_MAX_BODY", "10"),
    ],
)
def test_a_bad_value_names_its_variable(name, value):
    with pytest.raises(ConfigError, match=name):
        Settings.from_env({name: value})


def test_a_bad_variable_stops_a_command_with_a_clear_message(tmp_path, monkeypatch, capsys):
    from omnistock.cli import main

    log = tmp_path / "events.jsonl"
    log.write_text("")
    monkeypatch.setenv("OMNISTOCK_LOW_STOCK", "lots")
    assert main(["replay", str(log)]) == 2
    assert "OMNISTOCK_LOW_STOCK" in capsys.readouterr().err
