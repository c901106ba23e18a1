"""What README.md promises a newcomer, checked: the quick start is two commands and CI runs the second, its
links land on headings, every benchmark it shows is one the bench smoke tests run with flags the bench takes,
and the quick start's small install (requirements-core.txt, no torch) is all the default engine needs."""
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

from tools.harness import free_port, wait_for_port, worker_env

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CSM_ONLY = {"torch", "transformers"}  # what requirements.txt has beyond requirements-core.txt


def read(name: str) -> str:
    with open(os.path.join(ROOT, name), encoding="utf-8") as f:
        return f.read()


def prose_lines(text: str):
    """The lines outside fenced code blocks (a `# comment` in a bash block is not a heading)."""
    fenced = False
    for line in text.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced:
            yield line


def section(text: str, title: str) -> str:
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start:end if end != -1 else len(text)]


def quick_start_commands() -> list[str]:
    block = re.search(r"```bash\n(.*?)```", section(read("README.md"), "Quick start"), re.S).group(1)
    return [line.split("#")[0].strip() for line in block.splitlines() if line.split("#")[0].strip()]


def test_the_quick_start_is_two_commands_and_ci_runs_the_second():
    commands = quick_start_commands()
    assert len(commands) == 2, commands
    assert commands[0].startswith("bash scripts/run-test-input.sh")
    ci = [line.strip() for line in read(".ci/run").splitlines() if line.strip() and not line.startswith("#")]
    assert commands[1] in ci, f".ci/run must run the README's test command {commands[1]!r}"


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped (backticks, '=', ':', "'"), spaces -> '-'."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_every_link_inside_the_readme_lands_on_a_heading():
    text = read("README.md")
    anchors = {slug(line.lstrip("#")) for line in prose_lines(text) if re.match(r"#{1,6} ", line)}
    links = set(re.findall(r"\]\(#([^)]+)\)", text))
    assert links and not links - anchors, f"no heading for {sorted(links - anchors)}"


def test_every_benchmark_the_readme_shows_is_smoke_tested_and_takes_its_flags():
    shown = re.findall(r"`python -m (bench\.\w+)([^`]*)`", read("README.md"))
    smoke_tested = set(re.findall(r'"(bench\.\w+)"', read("tests/test_bench.py")))
    assert {module for module, _ in shown} >= {"bench.bench_worker", "bench.bench_csm", "bench.bench_stream",
                                               "bench.bench_batch"}
    for module, args in shown:
        assert module in smoke_tested, f"{module}: tests/test_bench.py runs no path of it"
        source = read(module.replace(".", "/") + ".py")
        for flag in re.findall(r"(?<![\w-])(-{1,2}[a-z][\w-]*)", args):
            assert f'"{flag}"' in source, f"README shows {module} {flag}, which its argument parser lacks"


def requirements(name: str) -> dict[str, str]:
    """Package name -> its line, for the pinned lines of a requirements file."""
    lines = [line.strip() for line in read(name).splitlines()]
    pinned = [line for line in lines if line and not line.startswith(("#", "-"))]
    return {re.match(r"[A-Za-z0-9_.-]+", line).group(0).lower(): line for line in pinned}


def test_the_core_requirements_are_the_images_without_what_only_csm_imports():
    core, full = requirements("requirements-core.txt"), requirements("requirements.txt")
    for name, line in core.items():
        assert full.get(name) == line, f"requirements.txt must pin {line} as requirements-core.txt does"
    extra = set(full) - set(core)
    assert extra == CSM_ONLY, (f"{sorted(extra - CSM_ONLY)}: add to requirements-core.txt too (hibari, the default, "
                               f"runs from it) unless only the CSM engine imports it")
    assert "-r requirements.txt" in read("requirements-dev.txt").splitlines()


# Run handler.py as its own process and write, at exit, the top-level modules it imported: no CSM-only one may
# be among them, or the quick start's core install (which lacks them) could not run the default engine.
PROBE = """
import atexit, runpy, sys
report = sys.argv[1]
def write():
    with open(report, "w") as f:
        f.write(" ".join(sorted({name.split(".")[0] for name in sys.modules})))
atexit.register(write)
sys.argv = ["handler.py", *sys.argv[2:]]
runpy.run_path("handler.py", run_name="__main__")
"""


def csm_only_imports(report) -> set[str]:
    return set(report.read_text().split()) & CSM_ONLY


@pytest.mark.slow
@pytest.mark.parametrize("handler_mode", ["dict", "stream"])
def test_the_default_engine_behind_the_queue_never_imports_torch_or_transformers(tmp_path, handler_mode):
    report = tmp_path / "imported"
    job = '{"input": {"text": "No torch here.", "format": "mp3"}}'
    env = worker_env(tmp_path, HANDLER_MODE=handler_mode, OUTPUT_DIR=str(tmp_path / "out"))
    done = subprocess.run([sys.executable, "-c", PROBE, str(report), "--test_input", job], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "out" / "local_test.mp3").stat().st_size > 1000
    assert "hibari" in report.read_text().split()
    assert not csm_only_imports(report)


@pytest.mark.slow
def test_the_default_engine_over_http_and_websocket_never_imports_torch_or_transformers(tmp_path):
    report, port = tmp_path / "imported", free_port()
    proc = subprocess.Popen([sys.executable, "-c", PROBE, str(report)], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True,
                            env=worker_env(tmp_path, WORKER_MODE="http", HOST="127.0.0.1", PORT=str(port)))
    try:
        assert wait_for_port(port, proc, 60), "the HTTP worker did not listen"
        deadline = time.monotonic() + 60
        while urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=10).status != 200:  # 204: loading
            assert time.monotonic() < deadline and proc.poll() is None, "the engine did not load"
            time.sleep(0.2)
        request = urllib.request.Request(f"http://127.0.0.1:{port}/generate/audio", method="POST",
                                         data=b'{"text": "No torch here.", "format": "wav"}')
        with urllib.request.urlopen(request, timeout=60) as reply:
            assert reply.status == 200 and len(reply.read()) > 1000
        client = subprocess.run([sys.executable, "examples/tts_client.py", "No torch here.", "-o",
                                 str(tmp_path / "ws.wav"), "--ws", f"ws://127.0.0.1:{port}/ws/generate"],
                                cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert client.returncode == 0, client.stderr[-3000:]
    finally:
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
    assert "uvicorn" in report.read_text().split(), stderr[-3000:]
    assert not csm_only_imports(report)
