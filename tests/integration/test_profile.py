"""The build profile (KSBUILD_PROFILE), the heartbeat of long actions, and the report's HTML page."""
import io
import json
import re
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest

import ksbuild.profile
import tests.integration.test_doit_runs as doit_runs
from ksbuild.profile.analysis import Run
from ksbuild.profile.heartbeat import Heartbeat
from ksbuild.profile.report import render, report_command, write_report
from tests.conftest import app_and_lib

# The workspace of test_doit_runs, its commands slowed down so that every phase shows in a trace.
LIB = doit_runs.LIB.replace('"tr a-z', '"sleep 0.3; tr a-z').replace("to: [first/, second/]", "to: [first/]")
APP = doit_runs.APP.replace('"cat notes', '"sleep 0.3; cat notes').replace('"cat ../lib', '"sleep 1; cat ../lib')
ALL = {"lib:upper", "lib:twice", "app:notes", "app:banner"}
PHASES = {"sandbox", "cache lookup", "run", "commit", "upload"}


@pytest.fixture
def ws(workspace):
    return app_and_lib(workspace, doit_runs.WORKSPACE, LIB, APP)


def complete_events(path: Path) -> list[dict]:
    trace = json.loads(path.read_text())
    assert isinstance(trace["traceEvents"], list)
    events = [e for e in trace["traceEvents"] if e["ph"] == "X"]
    assert events and all(e["dur"] >= 0 and e["ts"] >= 0 for e in events)
    return events


def assert_nested(events: list[dict], task: str) -> None:
    """The target's phases lie within its span, on its row."""
    [span] = [e for e in events if e["cat"] == "target" and e["name"] == task]
    phases = [e for e in events if e["cat"] == "phase" and e["args"]["task"] == task]
    assert phases
    for phase in phases:
        assert phase["tid"] == span["tid"]
        assert span["ts"] <= phase["ts"] and phase["ts"] + phase["dur"] <= span["ts"] + span["dur"] + 0.002


def test_profile_times_every_phase_of_every_target(ws, tmp_path):
    trace = tmp_path / "trace.json"
    ws.env["KSBUILD_PROFILE"] = str(trace)
    ws.doit()
    assert ws.executed() == ALL
    events = complete_events(trace)
    runs = {e["args"]["task"]: e for e in events if e["name"] == "run"}
    assert set(runs) == ALL
    assert runs["app:banner"]["dur"] >= 1_000_000 and runs["app:banner"]["args"]["mnemonic"] == "Command"
    assert {e["name"] for e in events if e["cat"] == "phase"} == PHASES  # bubblewrap: outputs go to the cache
    for task in ALL:
        assert_nested(events, task)
        assert next(e for e in events if e["name"] == task)["args"]["status"] == "executed"
    assert (ws.root / ".ksbuild/last-profile.json").read_text() == trace.read_text()
    assert not list((ws.root / ".ksbuild/work/.profile").glob("*"))  # the workers' event files are merged away

    ws.write("components/lib/greeting.txt.in", "bye\n")  # a second run's trace holds only what it ran
    ws.doit()
    assert {e["args"]["task"] for e in complete_events(trace) if e["name"] == "run"} == ws.executed() \
        == {"lib:upper", "lib:twice", "app:banner"}


def test_parallel_workers_are_merged_into_one_trace(ws, tmp_path):
    trace = tmp_path / "trace.json"
    ws.env["KSBUILD_PROFILE"] = str(trace)
    ws.doit("-n", "2")
    assert ws.executed() == ALL
    events = complete_events(trace)
    assert {e["args"]["task"] for e in events if e["name"] == "run"} == ALL
    for task in ALL:
        assert_nested(events, task)
    rows = {e["tid"] for e in events}
    assert len(rows) == 2  # two worker processes, a row each
    names = [e["args"]["name"] for e in json.loads(trace.read_text())["traceEvents"] if e["name"] == "thread_name"]
    assert len(names) == 2 and all(re.fullmatch(r"worker \d \(pid \d+\)", n) for n in names)
    assert not list((ws.root / ".ksbuild/work/.profile").glob("*"))


def test_without_the_variable_nothing_is_recorded(ws):
    ws.doit()
    assert not (ws.root / ".ksbuild/last-profile.json").exists()
    assert not (ws.root / ".ksbuild/work/.profile").exists()
    off = ksbuild.profile._OFF
    if not ksbuild.profile.ENABLED:
        assert ksbuild.profile.phase("a:b", 0, "run") is off and ksbuild.profile.target("/", "a:b") is off


def test_a_long_action_says_it_is_still_running(workspace):
    workspace.write("workspace.yaml", "components:\n  slow:\n    path: slow\n")
    workspace.write("slow/BUILD.yaml", """\
        targets:
          wait:
            rule: command
            srcs: [in.txt]
            outs: [out.txt]
            cmd: [sh, -c, "sleep 7; cp in.txt out.txt"]
        """)
    workspace.write("slow/in.txt", "x\n")
    result = workspace.doit()
    assert "ksbuild: slow:wait: Command still running (5 s)\n" in result.stdout
    assert result.stdout.count("still running") == 1


def test_heartbeat_beats_then_stops_with_its_action():
    stream = io.StringIO()
    with Heartbeat("a:b: Step", first=0.05, every=0.1, stream=stream):
        time.sleep(0.35)
    lines = stream.getvalue().splitlines()
    assert 3 <= len(lines) <= 4 and all(re.fullmatch(r"ksbuild: a:b: Step still running \(0 s\)", x) for x in lines)
    time.sleep(0.25)
    assert stream.getvalue().splitlines() == lines  # the beat stopped with its block

    quiet = io.StringIO()
    with pytest.raises(KeyboardInterrupt):  # Ctrl-C in the action: it goes through, and the beat stops
        with Heartbeat("a:b: Step", first=0.05, every=0.05, stream=quiet):
            raise KeyboardInterrupt
    with Heartbeat("c:d: Next", first=0.05, every=1, stream=stream):  # the next action's beat, alone
        time.sleep(0.12)
    time.sleep(0.1)
    assert quiet.getvalue() == ""
    assert stream.getvalue().splitlines()[len(lines):] == ["ksbuild: c:d: Next still running (0 s)"]
    assert len([t for t in threading.enumerate() if t.name == "ksbuild-heartbeat"]) == 1  # one, reused


def test_heartbeat_is_silent_when_quiet(monkeypatch):
    monkeypatch.setenv("KSBUILD_QUIET", "1")
    stream = io.StringIO()
    with Heartbeat("a:b: Step", first=0.01, every=0.01, stream=stream) as beat:
        assert beat.thread is None
        time.sleep(0.05)
    assert stream.getvalue() == ""


def test_report_without_a_run_says_so(tmp_path):
    from doit.exceptions import TaskFailed

    failed = report_command(str(tmp_path), "")
    assert isinstance(failed, TaskFailed) and "no run recorded yet" in failed.message
    assert "\n" not in failed.message.strip()


def test_report_escapes_what_it_shows():
    run = Run({"command": ["<b>"], "seconds": 1.0},
              [{"task": "a:<i>", "status": "executed", "seconds": 1.0, "reason": "input changed: <x>&"}])
    page = render(run, [])
    assert "<i>" not in page and "<x>" not in page and "<b>" not in page
    assert "a:&lt;i&gt;" in page and "&lt;x&gt;&amp;" in page


def section(dom: str, name: str) -> str:
    return dom[dom.index(f'<section id="{name}">'):].split("</section>")[0]


def test_report_page_in_headless_chromium(ws, tmp_path, capsys):
    chromium = shutil.which("chromium")
    if not chromium:
        pytest.skip("chromium is not installed (apt-get install chromium): the report's page cannot be rendered")
    ws.doit()
    ws.write("components/lib/greeting.txt.in", "bye\n")  # three targets run again...
    (ws.root / "components/app/notes.txt").unlink()  # ...and one comes back from the cache
    ws.env["KSBUILD_PROFILE"] = str(tmp_path / "trace.json")
    ws.doit()
    assert ws.statuses() == {"lib:upper": "executed", "lib:twice": "executed", "app:banner": "executed",
                             "app:notes": "cache-hit"}

    assert report_command(str(ws.root), "") is None
    page = ws.root / ".ksbuild/report.html"
    assert capsys.readouterr().out == f"ksbuild: report written to {page}\n"
    assert write_report(str(ws.root), str(tmp_path / "elsewhere.html")) == str(tmp_path / "elsewhere.html")
    result = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", page.as_uri()],
                            capture_output=True, text=True, timeout=120)
    dom = result.stdout
    assert "<h1>ksbuild: the last run</h1>" in dom, result.stderr[-2000:]
    assert "25% (1 of 4 targets that had to be made)" in section(dom, "summary")
    path = section(dom, "critical-path")
    assert [path.index(t) for t in ("lib:upper", "lib:twice", "app:banner")] == sorted(
        path.index(t) for t in ("lib:upper", "lib:twice", "app:banner"))
    assert "app:notes" not in path
    slowest = re.findall(r'<td class="name">([^<]+)</td>', section(dom, "slowest-targets"))
    assert slowest[0] == "app:banner" and set(slowest) == ALL
    phases = section(dom, "phases")
    assert all(f"<td>{phase}</td>" in phases for phase in ("sandbox", "cache lookup", "run", "commit"))
    assert "app:banner" in section(dom, "slowest-actions")
