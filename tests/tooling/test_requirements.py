"""The layer's requirements.txt (what `sam build` installs into the Lambda layer) pins exactly
what pyproject.toml's [project] dependencies pin, less boto3, which the Lambda runtime ships."""

import tomllib
from collections import Counter

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from devstack.template import REPO_ROOT

LAYER_REQUIREMENTS = REPO_ROOT / "layers" / "domain" / "requirements.txt"
PYPROJECT = REPO_ROOT / "pyproject.toml"
# In the Lambda Python runtime already; the layer must not carry a second copy.
RUNTIME_PROVIDED = {"boto3"}


def layer_requirements() -> list[Requirement]:
    lines = LAYER_REQUIREMENTS.read_text(encoding="utf-8").splitlines()
    stripped = (line.partition("#")[0].strip() for line in lines)
    return [Requirement(line) for line in stripped if line]


def project_dependencies() -> list[Requirement]:
    with PYPROJECT.open("rb") as fh:
        dependencies = tomllib.load(fh)["project"]["dependencies"]
    return [Requirement(dependency) for dependency in dependencies]


def pins(requirements: list[Requirement]) -> dict[str, str]:
    """Canonical name -> the requirement as written after the name (extras, pin, marker)."""
    return {canonicalize_name(r.name): str(r).removeprefix(r.name) for r in requirements}


def test_every_requirement_is_an_exact_pin_named_once() -> None:
    for source, requirements in (
        (LAYER_REQUIREMENTS.name, layer_requirements()),
        (PYPROJECT.name, project_dependencies()),
    ):
        names = Counter(canonicalize_name(r.name) for r in requirements)
        assert [n for n, count in names.items() if count > 1] == [], source
        loose = [str(r) for r in requirements if [s.operator for s in r.specifier] != ["=="]]
        assert loose == [], f"{source}: pin with == exactly"


def test_the_layer_pins_the_project_dependencies_except_the_runtimes() -> None:
    project = pins(project_dependencies())
    assert RUNTIME_PROVIDED.issubset(project), "pyproject.toml pins boto3 too (for dev and tests)"
    expected = {name: pin for name, pin in project.items() if name not in RUNTIME_PROVIDED}
    assert pins(layer_requirements()) == expected
