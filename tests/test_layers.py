"""The two layers stay apart: the client imports nothing of the page or its servers, and loads Pillow
and PyAV only when an image or a clip is used, so a script that imports it stays light."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

CLIENT = ROOT / "ray_studio" / "client"
WEB_ONLY = ("gradio", "fastapi", "limits", "redis")
MEDIA_LIBRARIES = ("PIL", "av")
# The modules whose whole purpose is Pillow or PyAV; the media package loads them on first use.
MEDIA_BACKENDS = ("ray_studio.client.media.images", "ray_studio.client.media.clips", "ray_studio.client.media.joining")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def client_modules() -> list[str]:
    return sorted(module_name(path) for path in CLIENT.rglob("*.py"))


def loaded_after(code: str) -> set[str]:
    """The top-level packages loaded in a fresh interpreter once ``code`` has run."""
    script = f"import sys\n{code}\nimport json\nprint(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}})))"
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout.splitlines()[-1]))


def test_importing_the_client_loads_nothing_of_the_page_nor_pillow_nor_pyav():
    modules = [name for name in client_modules() if name not in MEDIA_BACKENDS]
    assert {"ray_studio.client.client", "ray_studio.client.cli", "ray_studio.client.media"} <= set(modules)
    imports = "\n".join(["import ray_client", *(f"import {name}" for name in modules)])
    assert loaded_after(imports) & {*WEB_ONLY, *MEDIA_LIBRARIES} == set()


def test_checking_an_image_loads_pillow_and_not_pyav():
    code = (
        "from ray_studio.client import media\n"
        "try:\n    media.load_keyframe(b'not an image at all')\nexcept media.NotAnImageError:\n    pass"
    )
    loaded = loaded_after(code)
    assert "PIL" in loaded and "av" not in loaded


def imported_modules(path: Path) -> set[str]:
    """Every module ``path`` imports, at any depth of its code; ``from a import b`` counts as a and a.b."""
    module = module_name(path)
    package = (module if path.name == "__init__.py" else module.rpartition(".")[0]).split(".")
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            parts = package[: len(package) - node.level + 1] if node.level else []
            base = ".".join([*parts, node.module] if node.module else parts)
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def test_no_client_module_imports_the_web_layer_or_its_servers():
    forbidden = ("ray_studio.web", *WEB_ONLY)
    found = {
        module_name(path): sorted(
            name for name in imported_modules(path) if any(name == f or name.startswith(f + ".") for f in forbidden)
        )
        for path in CLIENT.rglob("*.py")
    }
    assert {module: names for module, names in found.items() if names} == {}
