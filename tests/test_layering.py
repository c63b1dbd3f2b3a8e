"""The library's imports flow one way (errors → space → compile → proxy → reject/transfer →
evolve → tracking → parameters → tasks → workflow → cli), each heavy dependency stays in its
one package, and a pipeline step loads only what it uses. Read from the source (every import,
module level or inside a function), so a new import that breaks the rule fails here."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "evonorm"
ORDER = [
    "errors",
    "space",
    "compile",
    "proxy",
    "reject",
    "transfer",
    "evolve",
    "tracking",
    "parameters",
    "tasks",
    "workflow",
    "cli",
    "__main__",
]
# Which library package may import each dependency (besides components/ and pipelines/ for kfp).
HOMES = {
    "optuna": "evolve",
    "sqlalchemy": "evolve",
    "mlflow": "tracking",
    "kfp": "workflow",
    "kfp_server_api": "workflow",
}


def _imports():
    for path in SRC.rglob("*.py"):
        parts = path.relative_to(SRC).parts
        package = parts[0].removesuffix(".py")
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and not node.level:
                yield package, path, node.module
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    yield package, path, alias.name


def test_imports_flow_one_way():
    wrong = []
    for package, path, module in _imports():
        if package == "__init__" or not module.startswith("evonorm."):
            continue
        target = module.split(".")[1]
        if package in ORDER and target in ORDER and ORDER.index(target) > ORDER.index(package):
            wrong.append(f"{path.relative_to(SRC)} imports {module}")
    assert wrong == []


@pytest.mark.parametrize("dependency", sorted(HOMES))
def test_each_dependency_has_one_home(dependency):
    users = {
        f"{path.relative_to(SRC)}"
        for package, path, module in _imports()
        if module.split(".")[0] == dependency and package != HOMES[dependency]
    }
    assert users == set()


def test_the_light_steps_do_not_load_the_transfer_tasks():
    """``generate``, ``reject`` and ``record`` import evonorm.tasks: neither Mask R-CNN nor the
    GAN may come with it, nor torchmetrics (torchvision.models loads its detection models
    itself, for every network the proxy builds)."""
    check = (
        "import sys, evonorm.tasks\n"
        "heavy = [m for m in sys.modules if m.startswith(('evonorm.transfer.', 'torchmetrics'))]\n"
        "assert not heavy, heavy\n"
    )
    done = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
