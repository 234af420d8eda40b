"""`sam build` of the template into a folder of one's choice, for any Lambda architecture.

What ships is what `sam build` makes (layers/domain/Makefile, functions/Makefile): the layer's
wheels for the architecture, trimmed, with bytecode. `make bench` builds for this machine's
architecture so that it can import what it built; tests/tooling/test_layer_build.py builds the
template as it is (arm64) and checks the result.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

from devstack.template import REPO_ROOT, load_template

SAM = REPO_ROOT / ".venv-sam" / "bin" / "sam"
ARCHITECTURES = ("arm64", "x86_64")
_MACHINES = {"aarch64": "arm64", "arm64": "arm64", "x86_64": "x86_64", "amd64": "x86_64"}
LAYER = "DomainLayer"


class BuildError(RuntimeError):
    """`sam build` failed; the message ends with its output."""


def machine_architecture() -> str:
    """This machine's CPU as Lambda names it (arm64 or x86_64)."""
    machine = platform.machine().lower()
    if machine not in _MACHINES:
        raise BuildError(f"no Lambda architecture for this machine ({machine})")
    return _MACHINES[machine]


def template_architecture() -> str:
    """The architecture template.yaml deploys (Globals.Function.Architectures)."""
    architectures = load_template()["Globals"]["Function"]["Architectures"]
    return str(architectures[0])


def template_for(architecture: str) -> dict[str, Any]:
    """template.yaml (long-form intrinsics) with every architecture set to `architecture`."""
    if architecture not in ARCHITECTURES:
        raise ValueError(f"architecture must be one of {ARCHITECTURES}, not {architecture!r}")
    template = load_template()
    template["Globals"]["Function"]["Architectures"] = [architecture]
    for resource in template["Resources"].values():
        properties = resource.get("Properties") or {}
        for key in ("Architectures", "CompatibleArchitectures"):
            if key in properties:
                properties[key] = [architecture]
        metadata = resource.get("Metadata") or {}
        if "BuildArchitecture" in metadata:
            metadata["BuildArchitecture"] = architecture
    return template


def sam_build(build_dir: Path, architecture: str | None = None) -> Path:
    """Run `sam build` into `build_dir` (created) and return it.

    `architecture` None builds template.yaml as it is; otherwise a copy with every architecture
    switched (written beside `build_dir`), and the layer's Makefile told through
    LAMBDA_ARCHITECTURE. Needs SAM CLI in .venv-sam (`make test` or `make bench` installs it)
    and pip's access to PyPI (or its cache); no Docker.
    """
    build_dir = build_dir.resolve()
    build_dir.parent.mkdir(parents=True, exist_ok=True)
    template = REPO_ROOT / "template.yaml"
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    if architecture is not None:
        template = build_dir.parent / f"template-{architecture}.json"
        template.write_text(json.dumps(template_for(architecture), indent=1), encoding="utf-8")
        env["LAMBDA_ARCHITECTURE"] = architecture
    else:
        env.pop("LAMBDA_ARCHITECTURE", None)
    # The Makefiles run the venv's python3.13 (and its pip): first on PATH, as `make` does.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["SAM_CLI_TELEMETRY"] = "0"
    if not SAM.exists():
        raise BuildError(f"{SAM} is missing: `make template-check` installs it")
    command = [str(SAM), "build", "--template-file", str(template), "--base-dir", str(REPO_ROOT)]
    command += ["--build-dir", str(build_dir)]
    done = subprocess.run(
        command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise BuildError(f"sam build failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return build_dir
