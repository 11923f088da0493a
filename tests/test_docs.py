"""The README and docs/ stay true: their links resolve, the configuration table names exactly the variables the
settings read, and every command they show is run by a test (or named here as not runnable, with the reason)."""

from __future__ import annotations

import ast
import json
import re
import shlex
import subprocess
import threading
from pathlib import Path

import click
import pytest
from flask import Flask
from werkzeug.serving import make_server

from app.cli import init_app
from app.core.config import DEFAULT_PRICES
from tests.conftest import API_TOKEN, auth_headers, create_preset

ROOT = Path(__file__).resolve().parent.parent
DOCS = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md")])
SETTINGS_MODULES = ["app/core/config.py", "app/core/env_values.py", "app/core/s3_settings.py", "app/core/env_file.py"]
ENV_HELPERS = {"whole_number", "number", "rate_limits", "_url"}  # helper(environ, "NAME", …)
LINK = re.compile(r"(?<!\!)\[[^\]]*\]\(([^)\s]+)\)|!\[[^\]]*\]\(([^)\s]+)\)")


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]", "", heading.strip()).lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def prose(text: str) -> str:
    """The text outside fenced code blocks (links and headings inside them are not links or headings)."""
    return re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)


def anchors(path: Path) -> set[str]:
    found: set[str] = set()
    for heading in re.findall(r"^#{1,6} (.+)$", prose(path.read_text()), flags=re.M):
        name, n = slug(heading), 1
        while name in found:  # a repeated heading gets -1, -2, …
            name, n = f"{slug(heading)}-{n}", n + 1
        found.add(name)
    return found


def broken_links(path: Path) -> list[str]:
    broken = []
    for match in LINK.finditer(prose(path.read_text())):
        target = match.group(1) or match.group(2)
        if re.match(r"^[a-z]+:", target):  # https:, mailto: — not ours to check
            continue
        file_part, _, anchor = target.partition("#")
        linked = (path.parent / file_part).resolve() if file_part else path
        if not linked.exists():
            broken.append(f"{target} (no such file)")
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
            broken.append(f"{target} (no heading #{anchor} in {linked.name})")
    return broken


def test_the_documents_exist_and_the_readme_stays_short():
    names = {p.name for p in (ROOT / "docs").glob("*.md")}
    assert {"architecture.md", "api.md", "cli.md", "configuration.md", "operations.md", "curating.md"} <= names
    assert len((ROOT / "README.md").read_text().splitlines()) <= 150
    assert "```mermaid\nsequenceDiagram" in (ROOT / "docs" / "architecture.md").read_text()
    assert (ROOT / "docs" / "preset-page.png").read_bytes().startswith(b"\x89PNG")


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
def test_every_relative_link_and_anchor_resolves(path):
    assert broken_links(path) == []


def test_the_link_check_finds_a_broken_link_and_anchor(tmp_path):
    doc = tmp_path / "a.md"
    doc.write_text("# Title here\n\n[ok](#title-here) [gone](b.md) [bad](#nowhere)\n```\n[code](x.md)\n```\n")
    assert broken_links(doc) == ["b.md (no such file)", "#nowhere (no heading #nowhere in a.md)"]


# --- configuration -----------------------------------------------------------------------------------------


def variables_read_by_the_settings() -> set[str]:
    """Every name the settings modules read: `environ.get("X")` and helper(environ, "X", …); the f-string
    `PRICE_{name}` over DEFAULT_PRICES is expanded."""
    names: set[str] = set()
    for module in SETTINGS_MODULES:
        for node in ast.walk(ast.parse((ROOT / module).read_text())):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            reads_environ = isinstance(func, ast.Attribute) and func.attr == "get"
            reads_environ = reads_environ and isinstance(func.value, ast.Name) and func.value.id == "environ"
            if reads_environ and node.args:
                argument = node.args[0]
            elif isinstance(func, ast.Name) and func.id in ENV_HELPERS and len(node.args) >= 2:
                argument = node.args[1]
            else:
                continue
            if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
                names.add(argument.value)
            elif isinstance(argument, ast.JoinedStr):
                prefix = "".join(v.value for v in argument.values if isinstance(v, ast.Constant))
                assert prefix == "PRICE_", f"an environment name made at run time in {module}: document it"
                names.update(f"PRICE_{provider}" for provider in DEFAULT_PRICES)
    return names


def variables_documented() -> set[str]:
    table = (ROOT / "docs" / "configuration.md").read_text()
    first_cells = [line.split("|")[1] for line in table.splitlines() if line.startswith("| `")]
    return {name for cell in first_cells for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", cell)}


def test_configuration_md_names_exactly_the_variables_the_settings_read():
    read = variables_read_by_the_settings()
    assert {"SECRET_KEY", "S3_BUCKET", "LOGIN_LIMITS_ACCOUNT", "PRICE_NANO_BANANA", "GENERATE_QUEUE"} <= read
    documented = variables_documented()
    assert read - documented == set(), "read by the settings but not in docs/configuration.md"
    assert documented - read == set(), "in docs/configuration.md but read by no setting"


def test_env_example_lists_every_variable_each_with_a_comment():
    lines = (ROOT / ".env.example").read_text().splitlines()
    listed = {}
    for number, line in enumerate(lines):
        match = re.fullmatch(r"#? ?([A-Z][A-Z0-9_]+)=.*", line)
        if match:
            listed[match.group(1)] = lines[number - 1]
    assert set(listed) == variables_read_by_the_settings()
    uncommented = [name for name, above in listed.items() if not above.startswith("# ") or "=" in above.split()[1]]
    assert uncommented == [], "each variable has a comment line above it"


# --- commands ----------------------------------------------------------------------------------------------

FLASK = ("flask --app wsgi ", ".venv/bin/flask --app wsgi ")

# Commands that are not `flask --app wsgi …`, each with the test that runs it (file::function, and a piece of
# that test's source that shows it) — or None and the reason it cannot run in the suite.
OTHER_COMMANDS: dict[str, tuple[str, str] | tuple[None, str]] = {
    "make run": (
        "tests/test_first_run.py::test_make_run_on_a_fresh_clone_generates_offline_examples",
        "start_make_run(",
    ),
    "make test": (None, "it is the suite itself; CI (.ci/run) runs it"),
    "TOKEN=$(python3": ("tests/test_docs.py::test_the_readmes_try_it_commands_run", "try_it"),
    "curl -s -H": ("tests/test_docs.py::test_the_readmes_try_it_commands_run", "try_it"),
    "curl -s -X POST": ("tests/test_docs.py::test_the_readmes_try_it_commands_run", "try_it"),
    "export APP_ENV=production": (None, "sets the environment the next lines run in; no command of its own"),
    "pip install .": (
        None,
        "installs into the running environment; `make run` (tests/test_first_run.py) installs the same package "
        "into a fresh venv with `pip install -e .`",
    ),
    "gunicorn -w 4 -k gthread --threads 8 -b 0.0.0.0:8000 wsgi:app": (
        None,
        "binds port 8000 with production secrets; tests/test_production_start.py runs gunicorn with "
        "gunicorn.conf.py and tests/browser serve the same app with werkzeug",
    ),
    "huey_consumer app.tasks.huey -w 4 -k thread": ("tests/live_stack.py::Consumer", '"-k", "thread"'),
}

# Documented options no test passes as a literal, and why.
OPTIONS_NOT_RUN = {
    ("presets create", "--settings"): "run here, by test_the_cli_mds_presets_create_line_runs (cli.md's line)",
    ("models cache", "--workers"): "the tests run its default (4 downloads at once); no test passes another",
    ("media migrate", "--workers"): "the tests run its default (8 copies at once); no test passes another",
}


def documented_commands(path: Path) -> list[str]:
    """Each command of the file's bash blocks: continuations joined, comments and placeholders' quoting kept."""
    commands = []
    for block in re.findall(r"^```bash\n(.*?)^```", path.read_text(), flags=re.S | re.M):
        joined = re.sub(r"\\\n\s*", "", block)
        for line in joined.splitlines():
            line = re.split(r"\s{2,}#", line)[0].strip()
            if line and not line.startswith("#"):
                commands.append(line)
    return commands


def literal(node: ast.expr) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def cli_calls_in_tests() -> list[list[list[str | None]]]:
    """Per test file, every list, tuple and call's arguments, as strings (None where not a literal string)."""
    files = []
    for source in sorted(ROOT.joinpath("tests").rglob("*.py")):
        calls = []
        for node in ast.walk(ast.parse(source.read_text())):
            items = node.elts if isinstance(node, ast.List | ast.Tuple) else getattr(node, "args", None)
            if isinstance(node, ast.List | ast.Tuple | ast.Call) and items:
                calls.append([literal(i) for i in items])
        files.append(calls)
    return files


def flask_commands() -> dict[str, click.Command]:
    app = Flask("docs")
    init_app(app)
    return dict(app.cli.commands)


def resolve(words: list[str], commands: dict[str, click.Command]) -> tuple[list[str], click.Command | None]:
    """The command's path (`usage clear`, `generate`, `db upgrade`) and its click command."""
    if words[0] == "db":  # Flask-Migrate's group
        return words[:2], None
    command = commands[words[0]]
    if isinstance(command, click.Group):
        return words[:2], command.commands[words[1]]
    return words[:1], command


def contains(call: list[str | None], path: list[str]) -> bool:
    return any(call[i : i + len(path)] == path for i in range(len(call) - len(path) + 1))


def unrun_parts(command: str, files, commands) -> list[str]:
    """What of one `flask --app wsgi …` command no test runs: the command itself, or one of its options (passed
    in a test file that runs the command, often through a helper of that file's own)."""
    words = shlex.split(command.split(" wsgi ", 1)[1])
    path, click_command = resolve(words, commands)
    running = [call for calls in files if any(contains(call, path) for call in calls) for call in calls]
    if not running:
        return [" ".join(path)]
    missing = []
    for option in (w for w in words if w.startswith("-")):
        params = [p for p in (click_command.params if click_command else []) if option in p.opts]
        spellings = set(params[0].opts + params[0].secondary_opts) if params else {option}
        if not any(spellings & set(call) for call in running) and (" ".join(path), option) not in OPTIONS_NOT_RUN:
            missing.append(f"{' '.join(path)} {option}")
    return missing


def test_every_command_in_the_readme_and_cli_md_is_run_by_a_test():
    calls, commands = cli_calls_in_tests(), flask_commands()
    unrun, unknown = [], []
    for command in documented_commands(ROOT / "README.md") + documented_commands(ROOT / "docs" / "cli.md"):
        if command.startswith(FLASK):
            unrun += unrun_parts(command, calls, commands)
            continue
        entry = next((v for k, v in OTHER_COMMANDS.items() if command.startswith(k)), None)
        if entry is None:
            unknown.append(command)
        elif entry[0] is not None:
            file_part, _, name = entry[0].partition("::")
            source = ROOT.joinpath(file_part).read_text()
            assert f"def {name}(" in source or f"class {name}" in source, entry[0]
            assert entry[1] in source, f"{entry[0]} no longer runs `{command}`"
    assert unknown == [], "commands shown but not mapped to a test in OTHER_COMMANDS"
    assert unrun == [], "commands or options shown in the docs that no test runs"


def test_the_command_check_notices_a_command_no_test_runs():
    calls, commands = cli_calls_in_tests(), flask_commands()
    assert unrun_parts("flask --app wsgi usage clear PRESET --yes", calls, commands) == []
    assert unrun_parts("flask --app wsgi usage clear PRESET --yes", [], commands) == ["usage clear"]
    assert unrun_parts("flask --app wsgi jobs prune --older-than 3", [[["jobs", "prune"]]], commands) == [
        "jobs prune --older-than"
    ]


@pytest.mark.timeout(120)
def test_the_readmes_try_it_commands_run(make_app, tmp_path):
    """The README's curl lines, word for word, against the app on a free port (with the token where `make run`
    puts it); only the port and the preset's id are filled in."""
    app = make_app(database="sqlite", queue="embedded")
    preset = create_preset(app.test_client())
    (tmp_path / "instance").mkdir()
    (tmp_path / "instance" / "dev-secrets.json").write_text(json.dumps({"ADMIN_API_TOKEN": API_TOKEN}))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        try_it = [c for c in documented_commands(ROOT / "README.md") if c.startswith(("TOKEN=", "curl "))]
        assert len(try_it) == 3
        script = "set -e\n" + "\n".join(try_it).replace("http://127.0.0.1:5000", f"http://127.0.0.1:{server.port}")
        script = script.replace("<preset id>", preset["id"]).replace("curl -s ", "curl -s -f -w ' HTTP %{http_code}|' ")
        done = subprocess.run(["bash", "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    finally:
        server.shutdown()
    assert done.returncode == 0, done.stderr
    listed, queued, _ = done.stdout.split("|")  # each curl's answer, as it printed it, and its status
    assert listed.endswith(" HTTP 200") and queued.endswith(" HTTP 202")
    queued = queued.removesuffix(" HTTP 202")
    assert preset["id"] in listed
    answer = json.loads(queued)
    assert answer["success"] and answer["offline"] and answer["presetId"] == preset["id"]
    assert app.test_client().get(f"/api/admin/jobs/{answer['jobId']}", headers=auth_headers()).status_code == 200


def test_the_cli_mds_presets_create_line_runs(make_app):
    """`presets create` with every option cli.md shows, word for word."""
    line = next(c for c in documented_commands(ROOT / "docs" / "cli.md") if " presets create " in c)
    app = make_app(database="sqlite", queue="embedded")
    result = app.test_cli_runner().invoke(args=shlex.split(line.split(" wsgi ", 1)[1]))
    assert result.exit_code == 0, result.output
    assert "Film Noir" in app.test_cli_runner().invoke(args=["presets", "list"]).output
