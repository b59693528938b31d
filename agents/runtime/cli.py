"""`rediverio-agent`: the worker daemon, the CI runner, report upload and tool listing.

    rediverio-agent worker [--max-jobs 4] [--label pool=ci] …
    rediverio-agent run --tool bandit [--tool semgrep] [--fail-on high] [--asset REPO] PATH
    rediverio-agent upload [--format sarif] [--asset REPO [--asset-type TYPE]] FILE
    rediverio-agent tools [--json]
    rediverio-agent flush

Exit codes of `run`: 0 when no finding reaches `--fail-on`, 1 when one does, 2 when
something went wrong (a tool failed, the report could not be delivered, bad usage):
a scan that did not complete cannot vouch for the code, so 2 wins over 1 and 0.
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from agents.runtime import VERSION
from agents.runtime.adapters import installed_tools
from agents.runtime.client import ApiError, Unreachable
from agents.runtime.config import (
    AGENT_TYPES,
    AgentConfig,
    ConfigError,
    build_config,
    parse_sarif_tools,
    parse_work_roots,
)
from agents.runtime.config import parse_pairs as _pairs
from agents.runtime.delivery import Delivery, Spool
from agents.runtime.summary import GATE_LEVELS, ToolRun, gate_failures, print_summary
from findings.rules.assets import InvalidAssetIdentifier, normalize_asset

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2
log = logging.getLogger("rediverio.agent")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(threadName)s %(message)s",
        stream=sys.stderr,
    )
    if args.command in ("run", "upload", "tools", "flush") and not args.verbose:
        logging.getLogger("rediverio.agent").setLevel(logging.WARNING)
    try:
        return COMMANDS[args.command](args, settings_from(args))
    except ConfigError as exc:
        print(f"rediverio-agent: {exc}", file=sys.stderr)
        return EXIT_ERROR


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rediverio-agent", description=__doc__.split("\n")[0])
    parser.add_argument("--version", action="version", version=f"rediverio-agent {VERSION}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--api-url", help="server base URL (env API_URL)")
    common.add_argument("--api-key", help="the agent's key (env API_KEY)")
    common.add_argument("--agent-id", help="sent as X-Agent-ID (env AGENT_ID)")
    common.add_argument("--work-dir", help="jobs, clones and the spool (env AGENT_WORK_DIR)")
    common.add_argument(
        "--tool-path", action="append", default=[], metavar="NAME=PATH", help="where a tool is"
    )
    common.add_argument(
        "--sarif-tool",
        action="append",
        default=[],
        metavar="NAME=COMMAND",
        help="a SARIF-writing tool: 'njsscan --sarif -o {output} {target}'",
    )
    common.add_argument(
        "--work-root",
        action="append",
        default=[],
        metavar="DIR",
        help="a directory scans may read; repeat for several (env AGENT_WORK_ROOTS, "
        "':'-separated; default: the working directory)",
    )
    common.add_argument("--retries", type=int, help="retries per request (env AGENT_RETRIES)")
    common.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)

    worker = sub.add_parser("worker", parents=[common], help="run as a daemon")
    worker.add_argument("--name", help="agent name (env AGENT_NAME; default: host name)")
    worker.add_argument("--agent-type", choices=AGENT_TYPES, help="env AGENT_TYPE")
    worker.add_argument("--max-jobs", type=int, help="parallel jobs (env AGENT_MAX_JOBS)")
    worker.add_argument("--poll-interval", type=float, help="seconds (env AGENT_POLL_INTERVAL)")
    worker.add_argument("--heartbeat-interval", type=float, help="seconds")
    worker.add_argument("--shutdown-grace", type=float, help="seconds jobs get on SIGTERM")
    worker.add_argument("--label", action="append", default=[], metavar="KEY=VALUE")
    worker.add_argument("--region")
    worker.add_argument(
        "--allow-payload-commands",
        action="store_true",
        default=None,
        help="run SARIF commands named in scan configs (lets the server run any program)",
    )

    run = sub.add_parser("run", parents=[common], help="scan a path once (CI)")
    run.add_argument("path", help="the directory to scan")
    run.add_argument("--tool", action="append", required=True, help="repeat for several")
    run.add_argument("--fail-on", choices=GATE_LEVELS, default="high")
    run.add_argument("--asset", help="the asset the results belong to (default: git remote)")
    run.add_argument("--asset-type", default="", help="its type (default: guessed)")
    run.add_argument("--scan-id", default="", help="the server's scan session to report into")
    run.add_argument("--no-upload", action="store_true", help="scan and judge only")
    run.add_argument("--timeout", type=float, default=3600, help="seconds per tool")
    run.add_argument("--semgrep-rules", action="append", default=[], metavar="PATH")
    run.add_argument("--exclude", action="append", default=[], metavar="PATTERN")
    run.add_argument("--output", metavar="DIR", help="also write each tool's RIS report here")

    upload = sub.add_parser("upload", parents=[common], help="push an existing report")
    upload.add_argument("file")
    upload.add_argument("--format", help="report format (default: detected)")
    upload.add_argument(
        "--asset", help="the asset the report is about, when it names none (e.g. its repository)"
    )
    upload.add_argument("--asset-type", default="", help="its type (default: guessed)")
    upload.add_argument("--scan-id", default="", help="the server's scan session to report into")

    tools = sub.add_parser("tools", parents=[common], help="list the scanners found here")
    tools.add_argument("--json", action="store_true")

    sub.add_parser("flush", parents=[common], help="send what the spool holds now")
    return parser


def settings_from(args: argparse.Namespace) -> AgentConfig:
    overrides: dict[str, Any] = {
        key: getattr(args, key, None)
        for key in (
            "api_url",
            "api_key",
            "agent_id",
            "work_dir",
            "name",
            "agent_type",
            "max_jobs",
            "poll_interval",
            "heartbeat_interval",
            "shutdown_grace",
            "region",
            "allow_payload_commands",
            "retries",
        )
    }
    if args.tool_path:
        overrides["tool_paths"] = _pairs(args.tool_path, "--tool-path")
    if args.sarif_tool:
        overrides["sarif_tools"] = parse_sarif_tools(_pairs(args.sarif_tool, "--sarif-tool"))
    if getattr(args, "label", None):
        overrides["labels"] = _pairs(args.label, "--label")
    if args.work_root:
        overrides["work_roots"] = parse_work_roots(args.work_root, "--work-root")
    return build_config(overrides)


def _delivery(settings: AgentConfig) -> Delivery:
    from agents.runtime.worker import make_client

    return Delivery(make_client(settings), Spool(settings.spool_dir))


def cmd_worker(args: argparse.Namespace, settings: AgentConfig) -> int:
    from agents.runtime.worker import Worker

    if not settings.api_url or not settings.api_key:
        print("rediverio-agent: set API_URL and API_KEY (or --api-url, --api-key)", file=sys.stderr)
        return EXIT_ERROR
    return Worker(settings).run()


def cmd_run(args: argparse.Namespace, settings: AgentConfig) -> int:
    from agents.runtime.jobs import ScanRequest, execute_scan
    from agents.runtime.ris import to_ris
    from agents.runtime.targets import PATH, Target

    upload = not args.no_upload
    if upload and not (settings.api_url and settings.api_key):
        print("rediverio-agent: set API_URL and API_KEY, or pass --no-upload", file=sys.stderr)
        return EXIT_ERROR
    root = Path(args.path).expanduser()
    if not root.is_dir():
        print(f"rediverio-agent: {args.path} is not a directory", file=sys.stderr)
        return EXIT_ERROR
    try:
        asset = _asset(args.asset or _git_remote(root), args.asset_type)
    except InvalidAssetIdentifier as exc:
        print(f"rediverio-agent: --asset: {exc}", file=sys.stderr)
        return EXIT_ERROR
    if upload and asset is None and not args.scan_id:  # a session names its own target
        _warn_unnamed(f"no --asset, and {args.path} has no git remote")
    delivery = _delivery(settings) if upload else None
    # What the operator names on the command line is theirs to scan: the directory and
    # its rule files join the work roots for this run.
    chosen = [root, *(Path(r).expanduser() for r in args.semgrep_rules)]
    settings = replace(settings, work_roots=(*settings.work_roots, *chosen))
    runs: list[ToolRun] = []
    for tool in dict.fromkeys(args.tool):
        config: dict[str, Any] = {}
        if args.exclude:
            config["exclude"] = list(args.exclude)
        if tool == "semgrep" and args.semgrep_rules:
            config["rules"] = [str(Path(r).resolve()) for r in args.semgrep_rules]
        request = ScanRequest(
            scanner=tool,
            target=str(root),
            config=config,
            timeout=args.timeout,
            scan_id=args.scan_id,
        )
        target = Target(PATH, str(root), local_path=root.resolve(), asset=asset)
        try:
            report = execute_scan(request, settings, target=target).report
        except Exception as exc:  # every tool gets its turn; the summary names the failure
            runs.append(ToolRun(tool, error=str(exc)))
            continue
        run = ToolRun(tool, report=report)
        document = to_ris(report, scan_id=args.scan_id, agent_id=settings.agent_id)
        if args.output:
            out = Path(args.output)
            out.mkdir(parents=True, exist_ok=True)
            (out / f"{tool}.ris.json").write_text(json.dumps(document, indent=1))
        if delivery is not None:
            run.delivery = _send(delivery, document, tool)
        runs.append(run)
    print_summary(runs, args.fail_on, sys.stdout)
    if any(r.error or r.delivery.startswith(("spooled", "refused")) for r in runs):
        return EXIT_ERROR
    return EXIT_FINDINGS if gate_failures(runs, args.fail_on) else EXIT_OK


def _send(delivery: Delivery, document: dict, label: str) -> str:
    try:
        delivered = delivery.send_report(document, label=label)
    except ApiError as exc:
        return f"refused: {exc}"
    if delivered.spooled:
        return f"spooled in {delivered.spool_file} (server unreachable)"
    reply = delivered.reply if isinstance(delivered.reply, dict) else {}
    if reply.get("status_url"):
        return f"queued on the server: {reply['status_url']}"
    outcome = f"delivered (session {reply.get('scan_id', '?')})"
    # What the server stored differently from what was sent (an unknown severity word,
    # a report that named no asset): a CI log is where a person reads it.
    notes = [str(note) for note in reply.get("errors") or [] if note]
    return "\n".join([outcome, *(f"  server: {note}" for note in notes)])


def cmd_upload(args: argparse.Namespace, settings: AgentConfig) -> int:
    from agents.runtime.jobs import attach_asset
    from agents.runtime.ris import to_ris
    from ingest.parsers.detect import parse_report
    from protocol.report import ReportError

    if not (settings.api_url and settings.api_key):
        print("rediverio-agent: set API_URL and API_KEY", file=sys.stderr)
        return EXIT_ERROR
    try:
        report = parse_report(Path(args.file).read_bytes(), args.format)
        asset = _asset(args.asset, args.asset_type)
    except (OSError, ReportError, InvalidAssetIdentifier) as exc:
        print(f"rediverio-agent: {args.file}: {exc}", file=sys.stderr)
        return EXIT_ERROR
    attach_asset(report, asset)
    if not report.targets and not args.scan_id:
        _warn_unnamed(f"no --asset, and {args.file} names no asset")
    document = to_ris(report, scan_id=args.scan_id, agent_id=settings.agent_id)
    outcome = _send(_delivery(settings), document, args.file)
    print(f"{report.tool_name}: {len(report.findings)} finding(s): {outcome}")
    return EXIT_OK if outcome.startswith(("delivered", "queued")) else EXIT_ERROR


def cmd_tools(args: argparse.Namespace, settings: AgentConfig) -> int:
    tools = installed_tools(dict(settings.tool_paths), dict(settings.sarif_tools))
    if args.json:
        print(json.dumps([_tool_json(t) for t in tools], indent=2))
        return EXIT_OK
    if not tools:
        print("no scanner found (looked on PATH and at the configured paths)")
        return EXIT_OK
    rows = [
        (t.name, t.version or "?", ",".join(t.capabilities), ",".join(t.target_kinds), t.path)
        for t in tools
    ]
    header = ("TOOL", "VERSION", "CAPABILITIES", "TARGETS", "PATH")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
    for t in tools:
        if t.note:
            print(f"note: {t.name}: {t.note}")
    return EXIT_OK


def cmd_flush(args: argparse.Namespace, settings: AgentConfig) -> int:
    if not (settings.api_url and settings.api_key):
        print("rediverio-agent: set API_URL and API_KEY", file=sys.stderr)
        return EXIT_ERROR
    try:
        result = _delivery(settings).flush()
    except (Unreachable, ApiError) as exc:
        print(f"rediverio-agent: {exc}", file=sys.stderr)
        return EXIT_ERROR
    print(f"sent {result.sent}, refused {result.rejected}, still waiting {result.remaining}")
    return EXIT_OK if not result.remaining else EXIT_ERROR


def _tool_json(tool) -> dict[str, Any]:
    return {
        "name": tool.name,
        "version": tool.version,
        "path": tool.path,
        "capabilities": list(tool.capabilities),
        "targets": list(tool.target_kinds),
        "note": tool.note,
    }


def _asset(identifier: str | None, asset_type: str = ""):
    from protocol.report import ReportTarget

    if not identifier:
        return None
    normalized = normalize_asset(identifier, asset_type or None)
    return ReportTarget(identifier=normalized.identifier, type=str(normalized.type))


def _warn_unnamed(why: str) -> None:
    print(
        f"rediverio-agent: warning: {why}: the server keeps these findings on an asset of "
        "their own and resolves none of them; pass --asset (the repository, e.g. "
        "github.com/acme/api) to file them under it",
        file=sys.stderr,
    )


def _git_remote(root: Path) -> str | None:
    """The repository a CI checkout came from, so that its findings land on that asset."""
    try:
        done = subprocess.run(
            ["git", "-C", str(root), "config", "--get", "remote.origin.url"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    url = done.stdout.strip()
    return url if done.returncode == 0 and url else None


COMMANDS = {
    "worker": cmd_worker,
    "run": cmd_run,
    "upload": cmd_upload,
    "tools": cmd_tools,
    "flush": cmd_flush,
}

if __name__ == "__main__":
    sys.exit(main())
