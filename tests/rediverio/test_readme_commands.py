"""Every operator command the README shows works as written on a fresh `make run` install.

The README's ```sh blocks are read for `.venv/bin/python manage.py …` lines, and each
runs exactly as written (through bash, from the repository root) against a temporary
embedded install prepared as `make run` prepares it: its own commands, read from the
Makefile, with DEBUG on. The README's commands then run as an operator's shell runs
them, DEBUG off and no SECRET_KEY. `createsuperuser` is interactive as written, so it
gets a terminal and its questions are answered. The developer's var/ is never touched.
"""

from __future__ import annotations

import os
import re
import select
import sqlite3
import subprocess
import tempfile
import time
from pathlib import Path

from django.test import SimpleTestCase

from tests.rediverio.embedded import ROOT, embedded_env, make_run_recipe

README = ROOT / "README.md"
COMMAND = ".venv/bin/python manage.py"
PASSWORD = "operator-Pa55word-for-the-admin"
# createsuperuser's questions, and what an operator types.
ANSWERS = {
    "Username": "operator",
    "Email address": "operator@example.com",
    "Password (again)": PASSWORD,
    "Password": PASSWORD,
}


def kept_files(var: Path) -> dict[str, float | None]:
    """The files an install writes in its var/ besides the database (which other
    processes of the developer's may open), with their modification times."""
    names = ("secret_key", "local-agent.key", "demo-password")
    return {n: (var / n).stat().st_mtime if (var / n).exists() else None for n in names}


def readme_commands() -> list[str]:
    commands = []
    for block in re.findall(r"^```sh\n(.*?)^```", README.read_text(), re.S | re.M):
        for line in block.replace("\\\n", " ").splitlines():
            if line.strip().startswith(COMMAND):
                commands.append(line.strip())
    return commands


def run(command: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", "-c", command], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180
    )


def run_in_a_terminal(command: str, env: dict[str, str], timeout: float = 180) -> tuple:
    """Run `command` with a terminal of its own (its controlling tty, so getpass reads
    it too), answering the questions it asks. Returns (exit status, everything shown)."""
    import fcntl
    import termios

    main, child_end = os.openpty()
    process = subprocess.Popen(
        ["bash", "-c", command],
        cwd=ROOT,
        env=env,
        stdin=child_end,
        stdout=child_end,
        stderr=child_end,
        start_new_session=True,
        preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0),
    )
    os.close(child_end)
    shown, answered, deadline = "", 0, time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([main], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(main, 4096).decode(errors="replace")
            except OSError:  # the command ended and closed its terminal
                break
            if not chunk:
                break
            shown += chunk
        pending = shown[answered:]
        if pending.rstrip().endswith(":"):
            question = pending.rstrip().splitlines()[-1]
            answer = next((a for q, a in ANSWERS.items() if question.startswith(q)), None)
            if answer is None:
                process.kill()
                raise AssertionError(f"unexpected question {question!r} from {command!r}")
            os.write(main, f"{answer}\n".encode())
            answered = len(shown)
        elif process.poll() is not None and not ready:
            break
    os.close(main)
    return process.wait(timeout=10), shown


class TheReadmeCommandsWorkAsWritten(SimpleTestCase):
    def test_the_readme_shows_the_operator_commands(self):
        names = [command.split()[2] for command in readme_commands()]
        for name in ("createtenant", "createagent", "seed_demo", "createsuperuser"):
            self.assertIn(name, names)

    def test_each_runs_as_written_on_a_fresh_make_run_install(self):
        real_var = kept_files(ROOT / "var")
        with tempfile.TemporaryDirectory() as install:
            var = Path(install)
            # `make run`'s own steps, with DEBUG on as `run: export DEBUG ?= true` sets it.
            setup = [line for line in make_run_recipe() if line.startswith(COMMAND)]
            self.assertEqual([line.split()[2] for line in setup], ["migrate", "seed_demo"])
            for command in setup:
                done = run(command, embedded_env(var, DEBUG="true"))
                self.assertEqual(done.returncode, 0, f"{command}\n{done.stderr}")

            operator = embedded_env(var)  # an operator's shell: no DEBUG, no SECRET_KEY
            for command in readme_commands():
                with self.subTest(command=command):
                    if "createsuperuser" in command and "--noinput" not in command:
                        status, shown = run_in_a_terminal(command, operator)
                        self.assertEqual(status, 0, shown)
                        self.assertIn("Superuser created successfully.", shown)
                    else:
                        done = run(command, operator)
                        self.assertEqual(done.returncode, 0, f"{done.stdout}\n{done.stderr}")
                        self.assertNotIn("Traceback", done.stderr)
                        if " createagent " in f"{command} ":
                            # The key is on the last line, as the README says.
                            self.assertRegex(done.stdout.strip().splitlines()[-1], r"rdv_\S+$")

            with sqlite3.connect(var / "rediverio.sqlite3") as database:
                tenants = dict(database.execute("SELECT slug, name FROM tenants"))
                agents = {row[0] for row in database.execute("SELECT name FROM agents")}
                admins = database.execute(
                    "SELECT username, email FROM auth_user WHERE is_superuser"
                ).fetchall()
            self.assertEqual(tenants.get("acme"), "Acme Corp")
            self.assertIn("demo", tenants)
            self.assertIn("ci-runner", agents)
            self.assertEqual(admins, [("operator", "operator@example.com")])
            self.assertTrue((var / "secret_key").exists())
        self.assertEqual(kept_files(ROOT / "var"), real_var, "the developer's var/ was touched")
