from __future__ import annotations

from pathlib import Path

import pytest

from agents.runtime.config import AgentConfig, ConfigError, build_config

ENV = {
    "API_URL": "https://rediver.example.com",
    "API_KEY": "rdv_live_abc",
    "AGENT_MAX_JOBS": "4",
    "AGENT_POLL_INTERVAL": "15",
    "AGENT_WORK_DIR": "/var/lib/rediverio-agent",
    "AGENT_LABELS": "pool=ci, gpu",
    "AGENT_TOOL_PATHS": "semgrep=/opt/semgrep/bin/semgrep",
    "AGENT_SARIF_TOOLS": '{"njsscan": "njsscan --sarif -o {output} {target}"}',
}


def test_the_environment_configures_the_agent():
    settings = build_config({}, ENV)
    assert settings.api_url == "https://rediver.example.com"
    assert settings.api_key == "rdv_live_abc"
    assert settings.max_jobs == 4
    assert settings.poll_interval == 15
    assert settings.work_dir == Path("/var/lib/rediverio-agent")
    assert dict(settings.labels) == {"pool": "ci", "gpu": ""}
    assert dict(settings.tool_paths) == {"semgrep": "/opt/semgrep/bin/semgrep"}
    assert settings.sarif_tools["njsscan"].command == (
        "njsscan",
        "--sarif",
        "-o",
        "{output}",
        "{target}",
    )


def test_flags_win_over_the_environment():
    settings = build_config({"max_jobs": 1, "api_url": "http://localhost:8000", "name": None}, ENV)
    assert settings.max_jobs == 1
    assert settings.api_url == "http://localhost:8000"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("AGENT_MAX_JOBS", "lots", "AGENT_MAX_JOBS must be a number"),
        ("AGENT_MAX_JOBS", "0", "between 1 and 64"),
        ("AGENT_POLL_INTERVAL", "0", "between 1 and 86400"),
        ("AGENT_TYPE", "robot", "agent type must be one of"),
        ("AGENT_SARIF_TOOLS", "[1]", "JSON object"),
        ("AGENT_LABELS", "=x", "is not key=value"),
    ],
)
def test_a_bad_setting_fails_loudly(name, value, message):
    with pytest.raises(ConfigError, match=message):
        build_config({}, {**ENV, name: value})


def test_a_config_update_is_persisted_and_read_back_over_flags(tmp_path):
    settings = AgentConfig(work_dir=tmp_path, max_jobs=2)
    updated, applied, ignored = settings.apply_update(
        {"max_concurrent_jobs": 5, "poll_interval_seconds": 10, "tool_paths": ["trivy=/opt/trivy"]}
    )
    assert applied == {"max_jobs": 5, "poll_interval": 10.0, "tool_paths": {"trivy": "/opt/trivy"}}
    assert ignored == []
    assert updated.max_jobs == 5
    restarted = AgentConfig(work_dir=tmp_path, max_jobs=2).with_persisted()
    assert (restarted.max_jobs, restarted.poll_interval) == (5, 10.0)
    again, _, _ = restarted.apply_update({"max_jobs": 3})
    assert AgentConfig(work_dir=tmp_path).with_persisted().poll_interval == 10.0
    assert again.max_jobs == 3


def test_an_unreadable_persisted_file_is_an_error_not_a_silent_reset(tmp_path):
    (tmp_path / "agent-config.json").write_text("{not json")
    with pytest.raises(ConfigError, match="unreadable"):
        AgentConfig(work_dir=tmp_path).with_persisted()


def test_a_relative_work_directory_is_made_absolute(tmp_path, monkeypatch):
    from agents.runtime.config import build_config

    monkeypatch.chdir(tmp_path)
    config = build_config({"work_dir": "var/agent"}, env={})
    assert config.work_dir == tmp_path / "var" / "agent"
