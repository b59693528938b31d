"""The capabilities an agent advertises follow from the tools it found, by the table the
server reads to decide what a scan needs: so it qualifies for every tool it advertises."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from agents.runtime.adapters import ADAPTERS, SarifTool, installed_tools
from agents.runtime.config import AgentConfig
from agents.runtime.worker import Worker
from protocol.capabilities import required_capabilities
from tests.agents.runtime.fakes import FakeServer, shell_tool

HEARTBEAT = "/api/v1/agent/heartbeat"


def every_tool(tmp_path: Path) -> dict[str, str]:
    """A stand-in executable for every adapter, so all of them count as installed."""
    return {
        name: str(shell_tool(tmp_path / "bin", cls.executable, "echo 1.0.0"))
        for name, cls in ADAPTERS.items()
    }


def test_the_heartbeat_advertises_the_capability_every_advertised_tool_needs(tmp_path):
    sarif = {
        "njsscan": SarifTool.from_config("njsscan", {"command": ["/bin/true", "{output}"]}),
        "inhouse": SarifTool.from_config(
            "inhouse", {"command": ["/bin/true"], "capabilities": ["web3"]}
        ),
    }
    with FakeServer() as server:
        settings = replace(
            AgentConfig(api_url=server.url, api_key="rdv_test_key", work_dir=tmp_path / "work"),
            tool_paths=every_tool(tmp_path),
            sarif_tools=sarif,
        )
        worker = Worker(settings, install_signals=False)
        worker.refresh_tools()
        assert worker.heartbeat()
        (call,) = server.calls(HEARTBEAT)
    body = call.body
    assert {"nuclei", "trivy-image", "njsscan", "inhouse"} <= set(body["tools"])
    for tool in body["tools"]:
        assert set(required_capabilities(tool)) <= set(body["capabilities"]), tool
    # nuclei gives dast, trivy's variants container, a SARIF tool what it declares.
    assert {"dast", "container", "web3"} <= set(body["capabilities"])


def test_a_tool_lists_what_the_table_says_it_gives(tmp_path):
    found = {t.name: t for t in installed_tools(every_tool(tmp_path))}
    assert found["nuclei"].capabilities == ("dast",)
    assert found["semgrep"].capabilities == ("sast", "secrets")
    assert found["trivy"].capabilities == ("container", "iac", "sca", "secrets")


def test_an_unknown_sarif_tool_gives_only_what_its_definition_declares(tmp_path):
    tools = {
        "plain": SarifTool.from_config("plain", {"command": ["/bin/true"]}),
        "declared": SarifTool.from_config(
            "declared", {"command": ["/bin/true"], "capabilities": ["sca"]}
        ),
    }
    found = {t.name: t for t in installed_tools({}, tools)}
    assert found["plain"].capabilities == ()
    assert found["declared"].capabilities == ("sca",)
