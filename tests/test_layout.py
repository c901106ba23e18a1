"""The shape of the code: no import cycles between our modules, and settings read from the environment in one
place only."""
import ast
import os

from tests.helpers import ROOT

PACKAGES = ("tts", "cache", "tools")


def modules() -> dict[str, str]:
    found = {}
    for package in PACKAGES:
        for folder, _, files in os.walk(os.path.join(ROOT, package)):
            for f in files:
                if f.endswith(".py"):
                    path = os.path.join(folder, f)
                    name = os.path.relpath(path, ROOT)[:-3].replace(os.sep, ".").removesuffix(".__init__")
                    found[name] = path
    return found


def imports(name: str, path: str, known: dict) -> set[str]:
    """Our modules that `name` imports, TYPE_CHECKING imports included."""
    package = name if path.endswith("__init__.py") else name.rsplit(".", 1)[0]
    out = set()
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            # `from pkg import submodule` depends on the submodule; `from pkg import name` on pkg itself.
            names = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        else:
            continue
        for n in names:
            while n and n not in known:
                n = n.rsplit(".", 1)[0] if "." in n else ""
            if n and n != name:
                out.add(n)
    return out


def test_no_import_cycles():
    known = modules()
    graph = {m: imports(m, p, known) for m, p in known.items()}
    state, stack, cycles = {}, [], []

    def visit(m):
        state[m] = "open"
        stack.append(m)
        for n in sorted(graph[m]):
            if state.get(n) == "open":
                cycles.append(" -> ".join(stack[stack.index(n):] + [n]))
            elif n not in state:
                visit(n)
        stack.pop()
        state[m] = "done"

    for m in sorted(graph):
        if m not in state:
            visit(m)
    assert cycles == []


def test_only_config_reads_the_environment():
    # logs.py configures logging before settings exist (LOG_LEVEL); tools/ run at build and test time.
    allowed = {"tts.config", "tts.logs"}
    readers = []
    for name, path in {**modules(), "handler": os.path.join(ROOT, "handler.py")}.items():
        if name.startswith("tools") or name in allowed:
            continue
        with open(path, encoding="utf-8") as f:
            source = f.read()
        if "os.environ" in source or "os.getenv" in source:
            readers.append(name)
    assert readers == []


def test_test_modules_do_not_import_each_other():
    importers = []
    for f in sorted(os.listdir(os.path.join(ROOT, "tests"))):
        if f.endswith(".py"):
            with open(os.path.join(ROOT, "tests", f), encoding="utf-8") as src:
                tree = ast.parse(src.read())
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("tests.test_"):
                    importers.append(f"{f} imports {node.module}")
    assert importers == []
