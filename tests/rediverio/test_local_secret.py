"""The embedded install keeps its own secret key in var/; a deployment must set one.

Invariants: every process of one embedded install gets the same key (generated once,
whoever starts first); the kept file is owner-only; a database server without
SECRET_KEY and with DEBUG off never starts.
"""

from __future__ import annotations

import json
import stat
import threading

import pytest

from rediverio.lib.local_secret import LocalSecretError, local_secret_key
from tests.rediverio.test_settings import settings_in_subprocess


class TestTheKeptKey:
    def test_a_fresh_install_gets_a_long_random_key_readable_by_its_owner_only(self, tmp_path):
        path = tmp_path / "var" / "secret_key"
        key = local_secret_key(path)
        assert len(key) >= 50
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert local_secret_key(path) == key
        assert local_secret_key(tmp_path / "other" / "secret_key") != key

    def test_processes_starting_together_all_get_the_one_key_published_first(self, tmp_path):
        path = tmp_path / "secret_key"
        start, keys = threading.Barrier(8), []

        def start_a_process() -> None:
            start.wait()
            keys.append(local_secret_key(path))

        threads = [threading.Thread(target=start_a_process) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(keys) == 8
        assert set(keys) == {path.read_text().strip()}
        assert [p.name for p in tmp_path.iterdir()] == ["secret_key"]  # no draft left

    def test_a_key_file_open_to_other_users_is_refused(self, tmp_path):
        path = tmp_path / "secret_key"
        local_secret_key(path)
        path.chmod(0o644)
        with pytest.raises(LocalSecretError, match="chmod 600"):
            local_secret_key(path)

    def test_an_empty_key_file_is_refused_rather_than_used(self, tmp_path):
        path = tmp_path / "secret_key"
        path.touch(mode=0o600)
        with pytest.raises(LocalSecretError, match="empty"):
            local_secret_key(path)


class TestSettings:
    def test_the_embedded_mode_starts_with_debug_off_and_keeps_its_key(self, tmp_path):
        env = {"DEBUG": "false", "REDIVERIO_VAR_DIR": str(tmp_path)}
        first = settings_in_subprocess(env, "settings.SECRET_KEY")
        assert first.returncode == 0, first.stderr
        second = settings_in_subprocess(env, "settings.SECRET_KEY")
        assert json.loads(first.stdout) == json.loads(second.stdout)
        assert json.loads(first.stdout) == (tmp_path / "secret_key").read_text().strip()

    def test_an_explicit_sqlite_url_is_the_embedded_mode_too(self, tmp_path):
        env = {
            "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
            "REDIVERIO_VAR_DIR": str(tmp_path),
        }
        result = settings_in_subprocess(env, "settings.SECRET_KEY")
        assert result.returncode == 0, result.stderr

    def test_a_set_secret_key_wins_and_nothing_is_written(self, tmp_path):
        env = {"SECRET_KEY": "from-the-environment", "REDIVERIO_VAR_DIR": str(tmp_path)}
        result = settings_in_subprocess(env, "settings.SECRET_KEY")
        assert json.loads(result.stdout) == "from-the-environment"
        assert not (tmp_path / "secret_key").exists()

    def test_a_database_server_with_debug_off_still_needs_secret_key(self, tmp_path):
        env = {
            "DATABASE_URL": "postgres://rediverio@db.internal:5432/rediverio",
            "REDIVERIO_VAR_DIR": str(tmp_path),
        }
        result = settings_in_subprocess(env, "settings.SECRET_KEY")
        assert result.returncode != 0
        assert "SECRET_KEY must be set when DEBUG is off" in result.stderr
        assert not (tmp_path / "secret_key").exists()

    def test_an_unusable_kept_key_stops_start_up_with_the_reason(self, tmp_path):
        (tmp_path / "secret_key").write_text("shared-with-everyone")
        (tmp_path / "secret_key").chmod(0o644)
        result = settings_in_subprocess({"REDIVERIO_VAR_DIR": str(tmp_path)}, "1")
        assert result.returncode != 0
        assert "SECRET_KEY is not set and" in result.stderr
        assert "chmod 600" in result.stderr
