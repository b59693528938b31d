"""The README's architecture section stays true to the code.

The section draws the layers, says which way imports go, follows the spine, and names,
for each concept of the specification, the one file it lives in. These tests hold it
to the code:

* the concept table ("Where each concept lives"): every file it names exists and
  defines the names its row gives; an address in a row is served by a view of that
  file; every table of the database and every concept of the specification (listed
  below) has a row;
* the layers: every module of the repository is read with `ast` (nothing is imported
  or run) and no import goes upward. Entry points may import anything (ENTRY_POINTS,
  each with its reason). The imports that break a rule today are listed in KNOWN, each
  with its reason: a new one fails here, and a fixed one must leave the list.
"""

from __future__ import annotations

import ast
import re
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.apps import apps
from django.urls import Resolver404, resolve

REPO_ROOT = Path(__file__).resolve().parents[1]

# ---------------------------------------------------------------------------------------
# The concept table
# ---------------------------------------------------------------------------------------

TABLE_HEADING = "### Where each concept lives"
CODE = re.compile(r"`([^`]+)`")
# An address in a concept cell: `/api/v1/scans/{id}/trigger`, `POST /api/v1/scans`.
ADDRESS = re.compile(r"`(?:(?:GET|POST|PUT|PATCH|DELETE) )?(/[^`\s]*)`")
PLACEHOLDER = re.compile(r"\{[^}/]+\}")
# A path of the repository quoted anywhere in the section: `ingest/body.py`, `findings/rules/`.
QUOTED_PATH = re.compile(r"`([a-z_]+/[\w./]*(?:\.py|\.html|/))`")

# The specification's concepts that are not tables (tables are read from the models):
# each must be named in the concept column of some row.
SPEC_CONCEPTS = (
    # 1. Scan creation: the wizard and its steps, the scan types.
    "wizard",
    "Basic Info",
    "Targets",
    "Options",
    "Schedule",
    "Scan types",
    # 2. Scan profiles.
    "ToolConfig",
    "Intensity",
    # 3. Scheduling and triggering.
    "Schedule types",
    "Scan scheduler",
    "Manual trigger",
    # 4. The command system.
    "Command types",
    "Priority levels",
    "Command lifecycle",
    # 5. Agents.
    "Agent types",
    "Agent status",
    "Agent health",
    "Agent selection",
    "Daemon agent flow",
    "runner",
    # 6. Ingest.
    "RIS",
    "SARIF",
    "Ingest pipeline",
    "Fingerprint",
    "Finding source detection",
    "provider",
    "Snapshot refresh",
    "asset stats",
    # 7. Sessions.
    "Session status flow",
    # 8. The screens.
    "Configurations tab",
    "Runs tab",
    "Details sheet",
    "Real-time updates",
    # 10. Plans.
    "agent_limit",
    # 12. Metrics and health checks.
    "scans_scheduled",
    "scan_execution_duration",
    "agent_active_jobs",
    "ingest_batch_size",
    "findings_ingested",
    "Heartbeat",
    "Command expiration",
    "online → offline",
    # Summary: multi-tenant isolation.
    "Multi-tenant isolation",
)

# The specification's addresses (sections 1, 3, 5, 10): each must be in a row, and is
# served from the file that row names.
SPEC_ADDRESSES = (
    "/api/v1/scans",
    "/api/v1/scans/{id}",
    "/api/v1/scans/{id}/trigger",
    "/api/v1/scans/{id}/pause",
    "/api/v1/scans/{id}/activate",
    "/api/v1/scans/{id}/runs",
    "/api/v1/scans/stats",
    "/api/v1/agent/heartbeat",
    "/api/v1/agent/commands",
    "/api/v1/agent/ingest",
    "/api/v1/agent/ingest/sarif",
    "/api/v1/agent/ingest/check",
    "/api/v1/agents",
    "/api/v1/agents/{id}",
    "/scans/",
    "/scans/runs/",
)


@dataclass(frozen=True)
class Row:
    concept: str
    files: tuple[str, ...]
    names: tuple[str, ...]

    @property
    def file(self) -> str:
        return self.files[0] if self.files else ""

    @property
    def addresses(self) -> list[str]:
        return ADDRESS.findall(self.concept)


def architecture_section(readme: Path = REPO_ROOT / "README.md") -> str:
    text = readme.read_text(encoding="utf-8")
    start = text.index("\n## Architecture\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def concept_rows(section: str) -> list[Row]:
    """The rows of the table under TABLE_HEADING: concept | file | names there."""
    lines = section.splitlines()
    start = lines.index(TABLE_HEADING)
    table: list[str] = []
    for line in lines[start + 1 :]:
        if line.startswith("|"):
            table.append(line)
        elif table or line.startswith("#"):
            break
    rows = []
    for line in table[2:]:  # after the header and its separator
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        assert len(cells) == 3, f"a row of the concept table needs three cells: {line}"
        concept, file, names = cells
        rows.append(Row(concept, tuple(CODE.findall(file)), tuple(CODE.findall(names))))
    return rows


def defined_names(path: Path) -> set[str]:
    """What a Python file defines (classes, functions, assigned names, at any depth) and
    the strings it spells out (a metric's or a schedule's name). Imported names are not
    defined here."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            names.add(node.value)
    return names


def file_of_view(address: str) -> str:
    match = resolve(PLACEHOLDER.sub(str(uuid.uuid4()), address))
    view = getattr(match.func, "view_class", None) or getattr(match.func, "cls", match.func)
    return file_of_module(view.__module__).relative_to(REPO_ROOT).as_posix()


def file_of_module(name: str) -> Path:
    file = sys.modules[name].__file__
    assert file is not None, f"{name} is not a file"
    return Path(file).resolve()


@pytest.fixture(scope="module")
def rows() -> list[Row]:
    return concept_rows(architecture_section())


def test_the_table_has_a_row_per_concept_each_naming_one_file(rows):
    assert len(rows) >= 60, "the concept table is the map: a row per concept"
    several = [row.concept for row in rows if len(row.files) != 1]
    assert not several, f"each concept lives in one file; these rows name {several}"


def test_every_file_the_table_names_exists(rows):
    missing = [
        f"{row.file} ({row.concept})" for row in rows if not (REPO_ROOT / row.file).is_file()
    ]
    assert not missing, "the README's concept table names files that are not there:\n" + (
        "\n".join(missing)
    )


def test_every_path_the_section_names_exists():
    quoted = QUOTED_PATH.findall(architecture_section())
    assert "agents/runtime/adapters/" in quoted
    missing = sorted({path for path in quoted if not (REPO_ROOT / path).exists()})
    assert not missing, (
        f"the README's architecture section names paths that are not there: {missing}"
    )


def test_every_row_names_what_its_file_defines(rows):
    wrong = []
    for row in rows:
        path = REPO_ROOT / row.file
        assert row.names, f"name what {row.file} holds of '{row.concept}'"
        if not path.is_file():
            continue  # reported by the test above
        if path.suffix == ".py":
            defined = defined_names(path)
            absent = [n for n in row.names if not set(n.split(".")) <= defined]
        else:
            text = path.read_text(encoding="utf-8")
            absent = [n for n in row.names if n not in text]
        wrong += [f"{row.file} does not define `{name}` ({row.concept})" for name in absent]
    assert not wrong, "update the README's concept table:\n" + "\n".join(wrong)


def test_every_address_in_the_table_is_served_from_the_file_its_row_names(rows):
    wrong = []
    for row in rows:
        for address in row.addresses:
            try:
                served = file_of_view(address)
            except Resolver404:
                wrong.append(f"{address} is not served at all ({row.concept})")
                continue
            if served != row.file:
                wrong.append(f"{address} is served from {served}, the table says {row.file}")
    assert not wrong, "update the README's concept table:\n" + "\n".join(wrong)


def test_every_table_of_the_database_has_its_row_at_its_model(rows):
    wrong = []
    for model in apps.get_models():
        path = file_of_module(model.__module__)
        if not path.is_relative_to(REPO_ROOT) or ".venv" in path.parts:
            continue  # Django's and the libraries' own tables
        table = model._meta.db_table
        mine = [row for row in rows if f"table `{table}`" in row.concept.lower()]
        where = path.relative_to(REPO_ROOT).as_posix()
        if not any(row.file == where and model.__name__ in row.names for row in mine):
            wrong.append(f"table `{table}`: `{model.__name__}` in {where}")
    assert not wrong, "the concept table misses (or misplaces) these tables:\n" + "\n".join(wrong)


def test_every_concept_of_the_specification_has_a_row(rows):
    concepts = " ".join(row.concept for row in rows).lower()
    missing = [concept for concept in SPEC_CONCEPTS if concept.lower() not in concepts]
    assert not missing, f"no row of the concept table names {missing}"
    addresses = {address for row in rows for address in row.addresses}
    missing = [address for address in SPEC_ADDRESSES if address not in addresses]
    assert not missing, f"no row of the concept table gives the address {missing}"


def test_the_table_is_read_from_the_readme_as_written():
    section = (
        "\n## Architecture\n\nText.\n\n"
        f"{TABLE_HEADING}\n\n"
        "| Concept | File | Names there |\n|---|---|---|\n"
        "| Table `scans`, `POST /api/v1/scans` | `scans/models.py` | `Scan`, `Scan.name` |\n"
        "\n## Next\n"
    )
    (row,) = concept_rows(section)
    assert row.files == ("scans/models.py",)
    assert row.names == ("Scan", "Scan.name")
    assert row.addresses == ["/api/v1/scans"]


# ---------------------------------------------------------------------------------------
# The layers
# ---------------------------------------------------------------------------------------

FIRST_PARTY = ("rediverio", "findings", "ingest", "agents", "scans", "protocol")
# The Django apps, bottom to top.
APP_ORDER = ("rediverio", "findings", "agents", "scans", "ingest")
# The Django-free core, bottom to top: a part imports its own modules and those of the
# parts below it. The agent's distribution ships these and nothing else of the server.
CORE = (
    ("findings.rules",),
    ("protocol",),
    ("ingest.parsers", "ingest.boundary"),
    ("agents.runtime",),
)
# Importing a core module runs the `__init__` of the packages that hold it: they are
# part of the core too, below all of it.
CORE_HOLDERS = ("findings", "ingest", "agents")
# Besides the standard library, the packages the core may import: the dependencies of
# the agent's own distribution (agent/pyproject.toml), none today. Django, DRF, psycopg…
# are the server's alone.
AGENT_DEPENDENCIES: frozenset[str] = frozenset()

# Modules nothing imports: they may import any layer. A kind taken off this list is
# held to the rules like any other module.
ENTRY_POINTS = {
    "urls": "a URLconf mounts the views and the API of every app (`urls.py`)",
    "apps": "Django loads `apps.py` itself, to configure an app",
    "admin": "Django's admin autodiscovery loads `admin.py`; an admin page may show any app",
    "commands": "management commands are run by `manage.py`, as any of the apps' users",
    "migrations": "`migrate` runs them; a data migration may call the code it needs",
    "tests": "tests drive every layer, as a user would",
    "bench": "`make bench` scripts measure every layer, like tests",
    "manage": "`manage.py` starts Django",
}

RULES = {
    "core-package": "the Django-free core imports a package beyond the standard library "
    "(Django, DRF…: the agent installs none)",
    "core-app": "the Django-free core imports a module outside the core",
    "core-order": "a part of the core imports a part above it "
    "(findings/rules → protocol → ingest/parsers, ingest/boundary → agents/runtime)",
    "entry": "a module imports an entry point",
    "models": "models import services, selectors, tasks, views, the API or forms",
    "interface": "a module below the interface imports views, the API or forms",
    "other-app-interface": "an app imports another app's views, API or forms",
    "app-order": "below the interface, an app imports a higher app "
    "(rediverio → findings → agents → scans → ingest)",
}

# The imports that break a rule today, each with why it is there. A fixed one must
# leave this list (test_every_known_exception_is_still_needed).
KNOWN: dict[str, str] = {}

SKIPPED_DIRS = {"var", "test-artifacts", "node_modules", "build", "dist", "__pycache__"}


@dataclass(frozen=True)
class Import:
    source: str
    target: str  # a module of the repository, or the top-level name of another package
    path: Path
    line: int

    @property
    def key(self) -> str:
        return f"{self.source} -> {self.target}"


def modules_of(root: Path) -> dict[str, Path]:
    found = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root).parts
        if any(p.startswith(".") or p in SKIPPED_DIRS or p.endswith(".egg-info") for p in parts):
            continue
        names = [*parts[:-1], path.stem] if path.stem != "__init__" else list(parts[:-1])
        if names:
            found[".".join(names)] = path
    return found


def imports_of(root: Path) -> list[Import]:
    """Every import statement of every module, at any depth (in functions, under
    `TYPE_CHECKING`), resolved to the deepest module of the repository it names."""
    modules = modules_of(root)

    def deepest(name: str) -> str:
        parts = name.split(".")
        for end in range(len(parts), 0, -1):
            if ".".join(parts[:end]) in modules:
                return ".".join(parts[:end])
        return parts[0]

    found = []
    for source, path in modules.items():
        package = source if path.name == "__init__.py" else source.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [deepest(alias.name) for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, *([base] if base else [])])
                targets = [deepest(f"{base}.{alias.name}") for alias in node.names]
            else:
                continue
            found += [Import(source, t, path, node.lineno) for t in set(targets) if t != source]
    return found


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def core_part(module: str) -> int | None:
    """The level of the core part holding `module` (0 lowest), -1 for the packages
    holding the core, None outside the core."""
    if module in CORE_HOLDERS:
        return -1
    for level, part in enumerate(CORE):
        if any(_within(module, package) for package in part):
            return level
    return None


def entry_point(module: str) -> str | None:
    """The kind of entry point `module` is (a key of ENTRY_POINTS), if it is one."""
    parts = module.split(".")
    if parts[0] in ("tests", "bench", "manage"):
        return parts[0]
    if parts[0] not in FIRST_PARTY:
        return None
    if "migrations" in parts:
        return "migrations"
    if "management" in parts and "commands" in parts:
        return "commands"
    if parts[-1] == "urls":
        return "urls"
    if parts[-1] in ("apps", "admin"):
        return parts[-1]
    return None


def layer(module: str) -> str:
    """interface, tasks, services (with selectors), models or domain (an app's other
    modules, alongside its services)."""
    parts = module.split(".")
    if parts[1:2] in (["views"], ["api"]) or parts[-1] in ("views", "forms"):
        return "interface"
    if parts[-1] == "tasks":
        return "tasks"
    if "models" in parts[1:]:
        return "models"
    if parts[-1] in ("services", "selectors"):
        return "services"
    return "domain"


def is_entry_point(module: str) -> bool:
    return entry_point(module) in ENTRY_POINTS


def broken_rule(source: str, target: str) -> str | None:
    """The rule (a key of RULES) that `source` importing `target` breaks, if any."""
    if is_entry_point(source) or source.split(".")[0] not in FIRST_PARTY:
        return None
    top = target.split(".")[0]
    source_part = core_part(source)
    if source_part is not None:
        if top not in FIRST_PARTY:
            plain = top in sys.stdlib_module_names or top in AGENT_DEPENDENCIES
            return None if plain else "core-package"
        target_part = core_part(target)
        if target_part is None:
            return "core-app"
        return "core-order" if target_part > source_part else None
    if top not in FIRST_PARTY or core_part(target) is not None:
        return None
    if is_entry_point(target):
        return "entry"
    below, above = layer(source), layer(target)
    if below == "models" and above in ("services", "tasks", "interface"):
        return "models"
    if below != "interface" and above == "interface":
        return "interface"
    if above == "interface" and top != source.split(".")[0]:
        return "other-app-interface"
    if below in ("models", "services", "domain") and APP_ORDER.index(top) > APP_ORDER.index(
        source.split(".")[0]
    ):
        return "app-order"
    return None


def violations(root: Path) -> dict[str, tuple[str, Import]]:
    found: dict[str, tuple[str, Import]] = {}
    for imp in imports_of(root):
        rule = broken_rule(imp.source, imp.target)
        if rule is not None:
            found.setdefault(imp.key, (rule, imp))
    return found


@pytest.fixture(scope="module")
def today() -> dict[str, tuple[str, Import]]:
    return violations(REPO_ROOT)


def test_no_module_imports_upward(today):
    new = [
        f"{imp.path.relative_to(REPO_ROOT)}:{imp.line}: {key} — {RULES[rule]}"
        for key, (rule, imp) in sorted(today.items())
        if key not in KNOWN
    ]
    assert not new, (
        "imports that go upward (README: Architecture, Layers); move the code to its layer,"
        " or, if it must stay, add it to KNOWN with its reason:\n" + "\n".join(new)
    )


def test_every_known_exception_is_still_needed(today):
    fixed = sorted(set(KNOWN) - set(today))
    assert not fixed, f"these imports no longer break a rule; remove them from KNOWN: {fixed}"


def test_the_core_and_the_apps_are_where_the_map_says():
    modules = modules_of(REPO_ROOT)
    for package in (*(p for part in CORE for p in part), *APP_ORDER):
        assert package in modules, f"{package} is named in the layers but does not exist"


def test_the_walk_reads_every_module_of_the_apps_and_the_core():
    modules = modules_of(REPO_ROOT)
    assert "agents.runtime.worker" in modules
    assert "scans.views.wizard" in modules
    assert "protocol.report" in modules
    assert not any(name.startswith(".venv") or ".venv." in name for name in modules)


def test_each_entry_point_is_one_of_the_listed_kinds():
    assert entry_point("rediverio.urls") == "urls"
    assert entry_point("scans.api.urls") == "urls"
    assert entry_point("findings.urls") == "urls"
    assert entry_point("scans.apps") == "apps"
    assert entry_point("agents.admin") == "admin"
    assert entry_point("rediverio.management.commands.seed_demo") == "commands"
    assert entry_point("findings.migrations.0006_secret_findings_masked") == "migrations"
    assert entry_point("tests.scans.test_scheduler") == "tests"
    assert entry_point("bench.bench_ingest") == "bench"
    assert entry_point("manage") == "manage"
    assert entry_point("agents.api.management") is None  # the agent management API
    assert entry_point("scans.tasks") is None
    assert {entry_point(m) for m in modules_of(REPO_ROOT)} - {None} <= set(ENTRY_POINTS)


def _tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    for directory in {p.parent for p in root.rglob("*.py")}:
        (directory / "__init__.py").touch()
    return root


def test_it_finds_each_kind_of_upward_import(tmp_path):
    root = _tree(
        tmp_path,
        {
            "protocol/wire.py": "from django.conf import settings\n",
            "findings/rules/severity.py": "from protocol import wire\n",
            "ingest/parsers/sarif.py": "def parse():\n    from ingest.models import IngestRun\n",
            "agents/runtime/worker.py": "import rest_framework.request\n",
            "agents/runtime/config.py": "import yaml\n",
            "scans/models.py": "from scans.services import scan_create\n",
            "scans/services.py": "from scans.views.pages import runs_page\n",
            "scans/views/pages.py": "",
            "scans/selectors.py": "from scans.api import scans\n",
            "scans/api/scans.py": "",
            "scans/workflows.py": "from ingest.models import Ingest\n",
            "ingest/models.py": "",
            "agents/api/protocol.py": "from scans.forms import OptionsForm\n",
            "scans/forms.py": "",
            "findings/stats.py": "from findings.urls import urlpatterns\n",
            "findings/urls.py": "",
        },
    )
    found = {key: rule for key, (rule, _) in violations(root).items()}
    assert found == {
        "protocol.wire -> django": "core-package",
        "findings.rules.severity -> protocol.wire": "core-order",
        "ingest.parsers.sarif -> ingest.models": "core-app",
        "agents.runtime.worker -> rest_framework": "core-package",
        "agents.runtime.config -> yaml": "core-package",
        "scans.models -> scans.services": "models",
        "scans.services -> scans.views.pages": "interface",
        "scans.selectors -> scans.api.scans": "interface",
        "scans.workflows -> ingest.models": "app-order",
        "agents.api.protocol -> scans.forms": "other-app-interface",
        "findings.stats -> findings.urls": "entry",
    }


def test_it_lets_imports_go_down_and_entry_points_reach_anywhere(tmp_path):
    root = _tree(
        tmp_path,
        {
            "findings/rules/fingerprint.py": "import hashlib\n",
            "protocol/report.py": "from findings.rules.fingerprint import sha256_hex\n",
            "ingest/parsers/ris.py": "from ..parsers import shape\nfrom protocol import report\n",
            "ingest/parsers/shape.py": "",
            "agents/runtime/jobs.py": "from ingest.parsers.ris import parse\n",
            "scans/models.py": "from agents.models import Agent\nfrom scans import schedules\n",
            "scans/schedules.py": "import croniter\n",
            "agents/models.py": "from rediverio.tenancy import TenantOwned\n",
            "rediverio/tenancy.py": "from django.db import models\n",
            "scans/services.py": "from agents.queue import command_enqueue\n",
            "agents/queue.py": "from protocol.report import Report\n",
            "ingest/api/views.py": "from scans.services import session_record_ingest\n",
            "ingest/tasks.py": "from scans.services import session_record_ingest\n",
            "scans/urls.py": "from agents.api import protocol\nfrom scans.views import pages\n",
            "agents/api/protocol.py": "",
            "scans/views/pages.py": "from scans.forms import OptionsForm\n",
            "scans/forms.py": "",
            "findings/migrations/0006_mask.py": "from ingest.secrets import mask\n",
            "ingest/secrets.py": "",
            "tests/test_it.py": "from scans.views.pages import runs_page\n",
        },
    )
    assert violations(root) == {}


# ---------------------------------------------------------------------------------------
# One way for each thing
# ---------------------------------------------------------------------------------------


def _app_sources() -> dict[str, str]:
    return {
        name: path.read_text()
        for name, path in modules_of(REPO_ROOT).items()
        if name.split(".")[0] in FIRST_PARTY and not is_entry_point(name) or name.endswith("urls")
    }


def test_url_patterns_live_only_in_urls_modules():
    elsewhere = [
        name
        for name, source in _app_sources().items()
        if not name.endswith(".urls")
        and name != "rediverio.urls"
        and re.search(r"^urlpatterns\b|^\s+path\(\"", source, re.M)
    ]
    assert not elsewhere, f"URL patterns outside a urls.py: {elsewhere}"


def test_every_id_in_a_path_is_a_uuid():
    from django.urls import URLPattern, URLResolver, get_resolver

    def routes(patterns, prefix=""):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from routes(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern):
                yield prefix + str(pattern.pattern)

    ids = [
        (route, param)
        for route in routes(get_resolver().url_patterns)
        if not route.startswith("admin/")
        for converter, param in re.findall(r"<(?:(\w+):)?(\w+_id)>", route)
        if converter != "uuid"
    ]
    assert not ids, f"ids read with another converter than uuid: {ids}"


def test_views_fetch_by_id_one_way():
    """`get_for_tenant_or_404` (rediverio/tenancy.py): the team's row or a 404."""
    others = [
        name
        for name, source in _app_sources().items()
        if "get_object_or_404" in source and name != "rediverio.tenancy"
    ]
    assert not others, f"fetch by id with get_for_tenant_or_404 instead: {others}"


def test_api_views_let_service_refusals_through_to_the_one_mapping():
    """A service's refusal (rediverio/errors.py) reaches the client through
    api_exception_handler (rediverio/api_errors.py); an API module never maps it itself."""
    import importlib

    from rediverio.errors import ServiceError

    for name in _app_sources():
        if name.endswith(("services", "queue")) and name.split(".")[0] in APP_ORDER:
            importlib.import_module(name)

    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    refusals = {cls.__name__ for cls in subclasses(ServiceError)}
    assert {"ScanInvalid", "QueueError", "AgentLimitReached", "IdempotencyKeyReused"} <= refusals
    caught = [
        (name, match)
        for name, source in _app_sources().items()
        if ".api." in name
        for match in re.findall(r"except \(?([\w., ]+)\)? as", source)
        if refusals & {part.strip().split(".")[-1] for part in match.split(",")}
    ]
    assert not caught, f"API modules catching a service's refusal: {caught}"


def test_every_refusal_has_a_client_error_status_and_a_stable_code():
    from rediverio.errors import ServiceError

    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    for cls in (ServiceError, *subclasses(ServiceError)):
        assert 400 <= cls.status < 500, cls
        assert re.fullmatch(r"[A-Z][A-Z_]+", cls.code), cls
