from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rediverio.lib.env import (
    ImproperlyConfiguredEnv,
    env_bool,
    env_int,
    env_list,
    env_str,
    parse_database_url,
)

ROOT = Path(__file__).resolve().parents[2]
BASE = Path("/srv/app")


def settings_in_subprocess(env: dict[str, str], expression: str) -> subprocess.CompletedProcess:
    """Import the real settings module in a fresh interpreter with only `env` set."""
    code = (
        "import json, django; from django.conf import settings; django.setup(); "
        f"print(json.dumps({expression}, default=str))"
    )
    clean = {k: v for k, v in os.environ.items() if k not in _SETTINGS_VARS}
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "rediverio.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


_SETTINGS_VARS = {
    "DEBUG",
    "SECRET_KEY",
    "SECRET_KEY_FILE",
    "DATABASE_URL",
    "REDIS_URL",
    "ALLOWED_HOSTS",
    "REDIVERIO_VAR_DIR",
}


class TestDatabaseUrl:
    def test_postgres_urls_give_every_connection_field(self):
        db = parse_database_url(
            "postgres://scan:p%40ss@db.internal:6543/rediverio?sslmode=require", base_dir=BASE
        )
        assert db == {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": "rediverio",
            "USER": "scan",
            "PASSWORD": "p@ss",
            "HOST": "db.internal",
            "PORT": "6543",
            "OPTIONS": {"sslmode": "require"},
        }

    def test_postgresql_scheme_and_no_credentials_are_fine(self):
        db = parse_database_url("postgresql://127.0.0.1/x", base_dir=BASE)
        assert (db["NAME"], db["USER"], db["PORT"]) == ("x", "", "")

    def test_sqlite_paths_are_relative_to_the_project_or_absolute(self):
        assert parse_database_url("sqlite:///var/db.sqlite3", base_dir=BASE)["NAME"] == str(
            BASE / "var/db.sqlite3"
        )
        assert parse_database_url("sqlite:////tmp/db.sqlite3", base_dir=BASE)["NAME"] == (
            "/tmp/db.sqlite3"
        )

    @pytest.mark.parametrize(
        "url", ["mysql://root@localhost/x", "postgres://host/", "sqlite://", "postgres://h:port/x"]
    )
    def test_unsupported_or_incomplete_urls_fail_loudly(self, url):
        with pytest.raises(ImproperlyConfiguredEnv):
            parse_database_url(url, base_dir=BASE)


class TestEnvReaders:
    def test_booleans_accept_the_usual_words_and_refuse_others(self, monkeypatch):
        monkeypatch.setenv("FLAG", "Yes")
        assert env_bool("FLAG", default=False) is True
        monkeypatch.setenv("FLAG", "off")
        assert env_bool("FLAG", default=True) is False
        monkeypatch.setenv("FLAG", "maybe")
        with pytest.raises(ImproperlyConfiguredEnv, match="FLAG"):
            env_bool("FLAG", default=False)

    def test_integers_are_checked(self, monkeypatch):
        monkeypatch.setenv("N", "12")
        assert env_int("N", default=1) == 12
        monkeypatch.setenv("N", "twelve")
        with pytest.raises(ImproperlyConfiguredEnv, match="N="):
            env_int("N", default=1)
        monkeypatch.setenv("N", "0")
        with pytest.raises(ImproperlyConfiguredEnv, match="at least 1"):
            env_int("N", default=1, minimum=1)

    def test_lists_split_on_commas(self, monkeypatch):
        monkeypatch.setenv("HOSTS", "a.example, b.example,,")
        assert env_list("HOSTS", default=[]) == ["a.example", "b.example"]

    def test_a_file_variant_wins_for_secrets(self, monkeypatch, tmp_path):
        secret = tmp_path / "secret"
        secret.write_text("from-a-file\n")
        monkeypatch.setenv("TOKEN", "from-env")
        monkeypatch.setenv("TOKEN_FILE", str(secret))
        assert env_str("TOKEN") == "from-a-file"


class TestSettingsFromTheEnvironment:
    def test_secret_key_is_required_with_a_database_server_when_debug_is_off(self, tmp_path):
        result = settings_in_subprocess(
            {
                "DEBUG": "false",
                "DATABASE_URL": "postgres://rediverio@db.internal:5432/rediverio",
                "REDIVERIO_VAR_DIR": str(tmp_path),
            },
            "settings.SECRET_KEY",
        )
        assert result.returncode != 0
        assert "SECRET_KEY must be set when DEBUG is off" in result.stderr
        assert not (tmp_path / "secret_key").exists()

    def test_no_key_is_written_in_code(self, tmp_path):
        # DEBUG on without SECRET_KEY gets the install's own key, as the embedded mode does.
        result = settings_in_subprocess(
            {"DEBUG": "true", "REDIVERIO_VAR_DIR": str(tmp_path)}, "settings.SECRET_KEY"
        )
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout) == (tmp_path / "secret_key").read_text().strip()

    def test_the_embedded_default_is_sqlite_in_wal_mode_with_a_busy_timeout(self, tmp_path):
        expression = (
            "[settings.DATABASES['default']['ENGINE'], settings.TIME_ZONE, "
            "__import__('django.db').db.connection.cursor().execute('PRAGMA journal_mode')"
            ".fetchone()[0], "
            "__import__('django.db').db.connection.cursor().execute('PRAGMA busy_timeout')"
            ".fetchone()[0], settings.Q_CLUSTER.get('orm')]"
        )
        result = settings_in_subprocess(
            {"SECRET_KEY": "x", "REDIVERIO_VAR_DIR": str(tmp_path)}, expression
        )
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout) == [
            "django_prometheus.db.backends.sqlite3",
            "UTC",
            "wal",
            20000,
            "default",
        ]
        assert (tmp_path / "rediverio.sqlite3").exists()

    def test_redis_url_makes_redis_the_broker(self):
        result = settings_in_subprocess(
            {"SECRET_KEY": "x", "REDIS_URL": "redis://127.0.0.1:6379/3"},
            "[settings.Q_CLUSTER.get('redis'), settings.Q_CLUSTER.get('orm')]",
        )
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout) == ["redis://127.0.0.1:6379/3", None]

    def test_allowed_hosts_come_from_the_environment(self):
        result = settings_in_subprocess(
            {"SECRET_KEY": "x", "ALLOWED_HOSTS": "scan.example.com,10.0.0.5"},
            "settings.ALLOWED_HOSTS",
        )
        assert json.loads(result.stdout) == ["scan.example.com", "10.0.0.5"]

    def test_a_malformed_value_stops_start_up(self):
        result = settings_in_subprocess({"SECRET_KEY": "x", "DEBUG": "perhaps"}, "1")
        assert result.returncode != 0
        assert "DEBUG='perhaps' is not a boolean" in result.stderr


class TestProductionSettings:
    def test_the_deploy_checks_are_clean_with_production_settings(self):
        env = {
            "DEBUG": "false",
            "SECRET_KEY": "x" * 20 + "production-only-key-of-enough-length-and-entropy-9f3b1",
            "ALLOWED_HOSTS": "scan.example.com",
        }
        # The browser tests allow async-unsafe calls in this process; production does not.
        ignored = _SETTINGS_VARS | {"SECURE_TLS", "DJANGO_ALLOW_ASYNC_UNSAFE"}
        clean = {k: v for k, v in os.environ.items() if k not in ignored}
        result = subprocess.run(
            [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
            cwd=ROOT,
            env={**clean, "DJANGO_SETTINGS_MODULE": "rediverio.settings", **env},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stdout + result.stderr


def test_every_response_carries_a_request_id(client):
    generated = client.get("/healthz")
    assert len(generated["X-Request-ID"]) == 32
    kept = client.get("/healthz", HTTP_X_REQUEST_ID="lb-7f3a9c21")
    assert kept["X-Request-ID"] == "lb-7f3a9c21"
    refused = client.get("/healthz", HTTP_X_REQUEST_ID="<script>")
    assert refused["X-Request-ID"] != "<script>"


def test_json_logs_carry_the_time_level_message_and_request_id():
    import logging

    from rediverio.logs import JsonFormatter

    record = logging.LogRecord(
        "rediverio", logging.WARNING, __file__, 1, "ingest %s", ("ok",), None
    )
    record.request_id = "abc12345"
    entry = json.loads(JsonFormatter().format(record))
    assert (entry["level"], entry["message"], entry["request_id"]) == (
        "WARNING",
        "ingest ok",
        "abc12345",
    )
