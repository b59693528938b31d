"""The agent as a distribution of its own (`agent/pyproject.toml`): installed into a fresh
virtual environment by the README's own commands ("Install the agent alone"), it brings
the agent program and the Django-free packages it imports, nothing else, and its
`rediverio-agent run` delivers a report that a live server stores.

The environment is built once per test session (about ten seconds: a venv, then pip
building the wheel with hatchling from the package index pip is configured with).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

from agents.services import agent_create
from findings.models import Finding
from tests.agents.runtime.test_cli import environment
from tests.e2e.test_agent_end_to_end import SAMPLE
from tests.factories import TenantFactory

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
# What the distribution ships: these trees whole, and the empty `__init__.py` above each.
SHIPPED_TREES = ("protocol", "agents/runtime", "findings/rules", "ingest/parsers")
PARENTS = ("agents/__init__.py", "findings/__init__.py", "ingest/__init__.py")
# Server modules a leak would most likely bring along (the exact set is checked too).
SERVER_MODULES = (
    "agents.models",
    "agents.api",
    "agents.services",
    "ingest.api",
    "ingest.pipeline",
    "ingest.boundary",
    "findings.models",
    "scans",
    "rediverio",
)


def server_version() -> str:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


def server_dependencies() -> set[str]:
    """The server's own requirements, by distribution name (`psycopg[binary]>=3.2` → psycopg)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return {canonical(requirement_name(dep)) for dep in project["dependencies"]}


def requirement_name(requirement: str) -> str:
    name = re.match(r"[A-Za-z0-9._-]+", requirement)
    assert name, requirement
    return name[0]


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def expected_files() -> set[str]:
    """Every file of the shipped trees as they are in this checkout (bytecode aside)."""
    files = set(PARENTS)
    for tree in SHIPPED_TREES:
        for path in (ROOT / tree).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts:
                files.add(path.relative_to(ROOT).as_posix())
    return files


def readme_install_block() -> list[str]:
    """The commands of the first ```sh block after "Install the agent alone"."""
    _, found, after = README.read_text().partition("Install the agent alone")
    assert found, "the README's agent section has no 'Install the agent alone' paragraph"
    block = re.search(r"^```sh\n(.*?)^```", after, re.S | re.M)
    assert block, "no ```sh block follows 'Install the agent alone'"
    return [line.strip() for line in block[1].splitlines() if line.strip()]


@dataclass(frozen=True)
class InstalledAgent:
    home: Path  # the HOME the README's commands ran with; scratch space for the tests
    venv: Path
    bare: frozenset[str]  # what `python -m venv` itself put into the environment
    shown: list[tuple[str, str]]  # each README command and what it printed

    @property
    def program(self) -> Path:
        return self.venv / "bin" / "rediverio-agent"

    def env(self, **extra: str) -> dict[str, str]:
        """No PYTHONPATH or outer venv that could lend the checkout's modules."""
        env = environment(
            HOME=str(self.home), PATH=f"{self.venv / 'bin'}:{os.environ.get('PATH', '')}"
        )
        env = {k: v for k, v in env.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
        return {**env, **extra}

    def python(self, script: str) -> subprocess.CompletedProcess:
        """`script` run by the environment's interpreter, isolated (-I: no PYTHON*
        variables, no user site, not the working directory on sys.path) and from a
        directory outside the checkout, so only what was installed can be imported."""
        return subprocess.run(
            [str(self.venv / "bin" / "python"), "-I", "-c", script],
            cwd=self.home,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=120,
        )

    def distributions(self) -> set[str]:
        done = subprocess.run(
            [str(self.venv / "bin" / "python"), "-I", "-m", "pip", "list", "--format=json"],
            cwd=self.home,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        return {canonical(d["name"]) for d in json.loads(done.stdout)}


def run_as_written(command: str, home: Path) -> str:
    """One README command through bash from the repository's root, as a shell would
    run it, with `~` in a scratch HOME. pip keeps the user's own configuration and
    cache (its index, its find-links); `python3` is this suite's interpreter, whose
    `-m venv` makes an environment of the base installation, without our packages."""
    real_home = Path.home()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PYTHON", "VIRTUAL_ENV", "DJANGO", "API_", "AGENT_"))
    }
    env.update(
        HOME=str(home),
        PATH=f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
        XDG_CONFIG_HOME=os.environ.get("XDG_CONFIG_HOME", str(real_home / ".config")),
        XDG_CACHE_HOME=os.environ.get("XDG_CACHE_HOME", str(real_home / ".cache")),
    )
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", command],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="session")
def installed_agent(tmp_path_factory) -> InstalledAgent:
    home = tmp_path_factory.mktemp("agent-home")
    create, *rest = readme_install_block()
    words = create.split("#")[0].split()
    assert words[:3] == ["python3", "-m", "venv"], f"the first command makes the venv: {create}"
    venv = Path(words[3].replace("~", str(home), 1))
    run_as_written(create, home)
    bare = InstalledAgent(home, venv, frozenset(), []).distributions()
    shown = [(command, run_as_written(command, home)) for command in rest]
    return InstalledAgent(home, venv, frozenset(bare), shown)


def test_the_readme_installs_the_agent_alone_and_it_reports_the_servers_version(
    installed_agent,
):
    commands = [command for command, _ in installed_agent.shown]
    assert any(re.search(r"/bin/pip install \./agent\b", c) for c in commands), commands
    assert installed_agent.shown[-1][1].strip() == f"rediverio-agent {server_version()}"


def test_the_fresh_environment_holds_the_agent_and_no_server_dependency(installed_agent):
    installed = installed_agent.distributions()
    assert installed - installed_agent.bare == {"rediverio-agent"}
    leaked = installed & (server_dependencies() | {"django", "djangorestframework"})
    assert not leaked, f"the agent's install brought server dependencies: {sorted(leaked)}"
    metadata = installed_agent.python(
        "import importlib.metadata as m, json;"
        "print(json.dumps([m.version('rediverio-agent'), m.requires('rediverio-agent')]))"
    )
    assert json.loads(metadata.stdout) == [server_version(), None], metadata.stderr


def test_it_ships_exactly_the_agent_and_the_django_free_packages(installed_agent):
    script = """
import importlib.metadata, json
files = importlib.metadata.files("rediverio-agent")
print(json.dumps(sorted(
    f.as_posix() for f in files
    if not f.parts[0].endswith(".dist-info") and f.parts[0] != ".." and f.suffix != ".pyc"
)))
"""
    done = installed_agent.python(script)
    assert done.returncode == 0, done.stderr
    shipped = set(json.loads(done.stdout))
    assert shipped == expected_files()
    assert "agents/runtime/rules/semgrep/python.yml" in shipped  # the bundled rules


def test_every_agent_module_imports_there_without_django_and_no_server_module_is_installed(
    installed_agent,
):
    script = f"""
import importlib, importlib.util, json, pkgutil, sys
imported = []
for package in ("protocol", "agents.runtime", "findings.rules", "ingest.parsers"):
    module = importlib.import_module(package)
    imported.append(package)
    for info in pkgutil.walk_packages(module.__path__, package + "."):
        importlib.import_module(info.name)
        imported.append(info.name)
server = [n for n in {list(SERVER_MODULES)!r} if importlib.util.find_spec(n) is not None]
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("django", "rest_framework"))
print(json.dumps({{"imported": sorted(imported), "server": server, "django": loaded}}))
"""
    done = installed_agent.python(script)
    assert done.returncode == 0, done.stderr
    outcome = json.loads(done.stdout)
    modules = {
        path.removesuffix(".py").removesuffix("/__init__").replace("/", ".")
        for path in expected_files()
        if path.endswith(".py") and path not in PARENTS
    }
    assert set(outcome["imported"]) == modules
    assert outcome["server"] == []
    assert outcome["django"] == []


@pytest.mark.django_db(transaction=True)
def test_the_installed_agent_runs_a_scan_whose_report_the_live_server_stores(
    installed_agent, live_server, tmp_path
):
    # The scanner is a program beside the agent, not part of it: the suite's own bandit.
    bandit = shutil.which("bandit", path=str(Path(sys.executable).parent)) or shutil.which("bandit")
    assert bandit, "the dev install brings bandit (pyproject.toml: dev)"
    tenant = TenantFactory()
    _, key = agent_create(tenant=tenant, name="ci", tools=["bandit"])
    done = subprocess.run(
        [
            str(installed_agent.program),
            "run",
            "--tool",
            "bandit",
            "--tool-path",
            f"bandit={bandit}",
            "--asset",
            "github.com/acme/sample",
            "--output",
            str(tmp_path / "reports"),
            str(SAMPLE),
        ],
        cwd=tmp_path,
        env=installed_agent.env(
            API_URL=live_server.url,
            API_KEY=key,
            AGENT_WORK_DIR=str(tmp_path / "work"),
            AGENT_RETRIES="0",
        ),
        capture_output=True,
        text=True,
        timeout=300,
    )
    # 1: the sample's high findings fail the gate; the report was delivered all the same.
    assert done.returncode == 1, done.stdout + done.stderr
    assert "bandit: delivered (session" in done.stdout, done.stdout

    sent = json.loads((tmp_path / "reports" / "bandit.ris.json").read_text())
    stored = Finding.objects.for_tenant(tenant).filter(
        asset__identifier="github.com/acme/sample", tool_name="bandit"
    )
    assert len(sent["findings"]) > 0
    assert stored.count() == len(sent["findings"])
    assert set(stored.values_list("rule_id", flat=True)) == {f["rule_id"] for f in sent["findings"]}
