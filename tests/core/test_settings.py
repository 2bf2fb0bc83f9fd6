"""Settings precedence: init kwargs (flags) > MODELMINT_* env > TOML config file > defaults."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from modelmint.core.settings import Settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    """No MODELMINT_* variable from the outer environment leaks into these tests."""
    for name in list(os.environ):
        if name.upper().startswith("MODELMINT_"):
            monkeypatch.delenv(name)


@pytest.fixture
def config(tmp_path) -> Path:
    path = tmp_path / "modelmint.toml"
    path.write_text(
        'port = 9001\nhost = "0.0.0.0"\nmax_queue = 3\nlog_level = "debug"\n'
        'load_models = ["from-file"]\n',
        encoding="utf-8",
    )
    return path


def test_defaults():
    settings = Settings()
    assert settings.host == "127.0.0.1"
    assert settings.port == 8000
    assert settings.max_queue == 64
    assert settings.max_body_bytes == 2 * 1024 * 1024
    assert settings.data_dir == Path.home() / ".modelmint"
    assert settings.config_file is None and settings.models_file is None
    assert settings.load_models is None
    assert settings.log_level == "info"
    assert 1 <= settings.threads <= max(1, os.cpu_count() or 1)


def test_environment_overrides_defaults(monkeypatch, tmp_path):
    monkeypatch.setenv("MODELMINT_PORT", "9100")
    monkeypatch.setenv("MODELMINT_HOST", "0.0.0.0")
    monkeypatch.setenv("MODELMINT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("MODELMINT_THREADS", "3")
    monkeypatch.setenv("MODELMINT_MAX_QUEUE", "0")
    monkeypatch.setenv("MODELMINT_LOAD_MODELS", '["a", "b"]')
    monkeypatch.setenv("modelmint_log_level", "warning")  # names are case-insensitive
    settings = Settings()
    assert (settings.port, settings.host, settings.threads) == (9100, "0.0.0.0", 3)
    assert settings.data_dir == tmp_path
    assert settings.max_queue == 0
    assert settings.load_models == ["a", "b"]
    assert settings.log_level == "warning"


def test_config_file_is_read(config):
    settings = Settings(config_file=config)
    assert (settings.port, settings.host, settings.max_queue) == (9001, "0.0.0.0", 3)
    assert settings.load_models == ["from-file"]
    assert settings.max_body_bytes == 2 * 1024 * 1024  # not in the file: default


def test_config_file_from_the_environment(monkeypatch, config):
    monkeypatch.setenv("MODELMINT_CONFIG_FILE", str(config))
    settings = Settings()
    assert settings.config_file == config
    assert settings.port == 9001


def test_environment_beats_config_file(monkeypatch, config):
    monkeypatch.setenv("MODELMINT_PORT", "9002")
    monkeypatch.setenv("MODELMINT_LOAD_MODELS", '["from-env"]')
    settings = Settings(config_file=config)
    assert settings.port == 9002
    assert settings.load_models == ["from-env"]
    assert settings.host == "0.0.0.0"  # still from the file


def test_init_kwargs_beat_environment_and_config_file(monkeypatch, config):
    monkeypatch.setenv("MODELMINT_PORT", "9002")
    monkeypatch.setenv("MODELMINT_HOST", "10.0.0.1")
    settings = Settings(config_file=config, port=9003)
    assert settings.port == 9003
    assert settings.host == "10.0.0.1"
    assert settings.max_queue == 3


def test_init_config_file_beats_environment_config_file(monkeypatch, config, tmp_path):
    other = tmp_path / "other.toml"
    other.write_text("port = 7777\n", encoding="utf-8")
    monkeypatch.setenv("MODELMINT_CONFIG_FILE", str(other))
    assert Settings(config_file=config).port == 9001


def test_missing_config_file_is_a_clear_error(tmp_path):
    missing = tmp_path / "nope.toml"
    with pytest.raises(FileNotFoundError) as caught:
        Settings(config_file=missing)
    assert str(missing) in str(caught.value)
    assert "does not exist" in str(caught.value)


def test_missing_config_file_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("MODELMINT_CONFIG_FILE", str(tmp_path / "gone.toml"))
    with pytest.raises(FileNotFoundError, match="MODELMINT_CONFIG_FILE"):
        Settings()


@pytest.mark.parametrize("port", [0, -1, 65536, 100_000])
def test_invalid_port_is_rejected(port):
    with pytest.raises(ValidationError, match="port"):
        Settings(port=port)


@pytest.mark.parametrize("value", ["abc", "0", "70000"])
def test_invalid_port_from_the_environment(monkeypatch, value):
    monkeypatch.setenv("MODELMINT_PORT", value)
    with pytest.raises(ValidationError, match="port"):
        Settings()


def test_invalid_value_in_config_file(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("port = 70000\n", encoding="utf-8")
    with pytest.raises(ValidationError, match="port"):
        Settings(config_file=path)


@pytest.mark.parametrize(
    ("field", "value"),
    [("threads", 0), ("threads", 257), ("max_queue", -1), ("max_body_bytes", 10)],
)
def test_other_bounds(field, value):
    with pytest.raises(ValidationError, match=field):
        Settings(**{field: value})


def test_unknown_keys_are_ignored(tmp_path):
    path = tmp_path / "extra.toml"
    path.write_text("port = 9005\nsomething_else = 1\n", encoding="utf-8")
    assert Settings(config_file=path).port == 9005
