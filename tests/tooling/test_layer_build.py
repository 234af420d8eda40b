"""What `sam build` ships (layers/domain/Makefile, functions/Makefile), built here for the
template's architecture: every module with its Python 3.13 bytecode (/opt and /var/task are
read-only on Lambda, so a bare .py is compiled again on every cold start), no binary for another
architecture (none at all today), Babel trimmed yet formatting as the code does, and the layer's
size.
Built for this machine too (as `make bench` does), every function imports from the build."""

import importlib.util
import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from coupons.formatting import format_discount
from coupons.messages import SUPPORTED_LANGUAGES
from coupons.pricing import CURRENCIES
from coupons.rules import FIXED_AMOUNT, PERCENT
from devstack.sam_build import (
    LAYER,
    SAM,
    machine_architecture,
    sam_build,
    template_architecture,
)
from devstack.template import function_environment, routes

LAYER_LIMIT_BYTES = 15 * 1000 * 1000  # unzipped; it was ~45 MB before the trim
# ELF e_machine of each Lambda architecture.
ELF_MACHINE = {"arm64": 183, "x86_64": 62}  # EM_AARCH64, EM_X86_64
UNCHECKED_HASH = 0b01  # .pyc flags: hash-based, source not checked

pytestmark = pytest.mark.skipif(not SAM.exists(), reason="SAM CLI (.venv-sam) not installed")


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return sam_build(tmp_path_factory.mktemp("sam") / "build")


@pytest.fixture(scope="module")
def layer(build: Path) -> Path:
    return build / LAYER / "python"


@pytest.fixture(scope="module")
def native_build(build: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A build this machine can import: the same, or one with LAMBDA_ARCHITECTURE switched."""
    if machine_architecture() == template_architecture():
        return build
    return sam_build(tmp_path_factory.mktemp("native") / "build", machine_architecture())


def _elf_machine(binary: Path) -> int:
    header = binary.read_bytes()[:20]
    assert header[:4] == b"\x7fELF"
    return int(struct.unpack("<H", header[18:20])[0])


def _binaries(folder: Path) -> list[Path]:
    """Every ELF file under `folder` (extension modules, shared libraries), whatever its name."""
    found = []
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.is_symlink():
            with path.open("rb") as fh:
                if fh.read(4) == b"\x7fELF":
                    found.append(path)
    return found


def _unchecked_pyc(source: Path) -> bool:
    cache = source.parent / "__pycache__" / f"{source.stem}.{sys.implementation.cache_tag}.pyc"
    if not cache.is_file():
        return False
    header = cache.read_bytes()[:8]
    magic, flags = header[:4], struct.unpack("<I", header[4:8])[0]
    return magic == importlib.util.MAGIC_NUMBER and flags == UNCHECKED_HASH


def test_python_313_is_what_compiles() -> None:
    # Lambda's python3.13 reads cpython-313 .pyc files; the build compiles with this venv's.
    assert sys.implementation.cache_tag == "cpython-313"


def test_every_module_ships_with_its_unchecked_bytecode(build: Path, layer: Path) -> None:
    functions = {route.function_logical_id for route in routes()}
    folders = [layer, *(build / name for name in sorted(functions))]
    sources = [source for folder in folders for source in sorted(folder.rglob("*.py"))]
    assert len(sources) > 100 and (layer / "coupons" / "http.py") in sources
    assert all((build / name / "app.py") in sources for name in functions)
    bare = [str(source.relative_to(build)) for source in sources if not _unchecked_pyc(source)]
    assert bare == []


def test_the_layer_ships_no_binary_for_another_architecture(
    layer: Path, native_build: Path
) -> None:
    assert template_architecture() == "arm64"
    shipped: list[Path] = []
    for built, architecture in (
        (layer, template_architecture()),
        (native_build / LAYER / "python", machine_architecture()),
    ):
        binaries = _binaries(built)
        wrong = [p for p in binaries if _elf_machine(p) != ELF_MACHINE[architecture]]
        assert wrong == [], architecture
        shipped += binaries
    # None at all since the bodies parse without pydantic (pydantic_core was the one binary):
    # one build runs on either CPU. A requirement with a binary may drop this line; the check
    # above then holds its wheel to the template's CPU.
    assert shipped == []


# Imports the built function with its built layer as Lambda would (no bytecode written), and
# says where the layer's packages came from.
_IMPORT_FROM_BUILD = """
import json, sys
sys.path[:0] = sys.argv[1:3]
import app
packages = ("coupons", "aws_lambda_powertools")
print(json.dumps([sys.modules[name].__file__ for name in packages if name in sys.modules]))
"""


def test_every_function_imports_from_its_build(native_build: Path) -> None:
    layer = native_build / LAYER / "python"
    env = {
        **os.environ,
        **function_environment("coupons-build"),
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "build",
        "AWS_SECRET_ACCESS_KEY": "build",
    }
    for name in sorted({route.function_logical_id for route in routes()}):
        paths = [str(layer), str(native_build / name)]
        done = subprocess.run(
            [sys.executable, "-I", "-B", "-c", _IMPORT_FROM_BUILD, *paths],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, f"{name}: {done.stderr}"
        files = json.loads(done.stdout)
        assert files and all(Path(file).is_relative_to(layer) for file in files), name


def test_the_layer_ships_only_what_runs(layer: Path) -> None:
    assert (layer / "coupons" / "__init__.py").is_file()
    assert {"requirements.txt", "Makefile", "coupon_api.egg-info", "bin"}.isdisjoint(
        path.name for path in layer.iterdir()
    )
    folders = {path.name for path in layer.rglob("*") if path.is_dir()}
    assert {"tests", "docs", "event_handler", "v1"}.isdisjoint(folders)
    size = sum(path.stat().st_size for path in layer.rglob("*") if path.is_file())
    assert size < LAYER_LIMIT_BYTES, f"layer is {size / 1e6:.1f} MB unzipped"


# Formats every served language (and one that is not: the default) in every currency, as the
# built layer alone does it: `-I -S`, so nothing comes from the venv's site-packages. (Built for
# this machine, should formatting ever import a binary; the trim does not depend on the CPU.)
_FORMAT_IN_LAYER = """
import json, sys
sys.path[:0] = [sys.argv[1]]
import babel
from babel.numbers import get_currency_precision
from coupons.formatting import format_discount
cases = json.loads(sys.argv[2])
print(json.dumps({
    "babel": babel.__file__,
    "formatted": [format_discount(*case) for case in cases],
    "digits": {currency: get_currency_precision(currency) for currency in json.loads(sys.argv[3])},
}))
"""


def test_the_trimmed_babel_formats_as_the_code_does(native_build: Path) -> None:
    from babel.numbers import get_currency_precision

    layer = native_build / LAYER / "python"

    cases = [
        (disc_type, disc, currency, language)
        for language in (*SUPPORTED_LANGUAGES, "fr")
        for currency in CURRENCIES
        for disc_type, disc in ((PERCENT, 12.5), (FIXED_AMOUNT, 5000.0), (FIXED_AMOUNT, 5.5))
    ]
    arguments = [str(layer), json.dumps(cases), json.dumps(CURRENCIES)]
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-B", "-c", _FORMAT_IN_LAYER, *arguments],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    built = json.loads(done.stdout)
    assert Path(built["babel"]).is_relative_to(layer)
    assert built["formatted"] == [format_discount(*case) for case in cases]
    assert built["digits"] == {code: get_currency_precision(code) for code in CURRENCIES}


# The coupon page's QR code (DESIGN 2.8), drawn by the built layer alone: segno (a requirement
# imported by coupons/page/qr.py only, when a page is drawn) survives the trim.
_QR_IN_LAYER = """
import json, sys
sys.path[:0] = [sys.argv[1]]
import segno
from coupons.page.qr import qr_svg
print(json.dumps({"segno": segno.__file__, "svg": qr_svg("WELCOME2026")}))
"""


def test_the_page_draws_its_qr_code_from_the_layer(layer: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-B", "-c", _QR_IN_LAYER, str(layer)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    drawn = json.loads(done.stdout)
    assert Path(drawn["segno"]).is_relative_to(layer)
    assert drawn["svg"].startswith("<svg") and "<path" in drawn["svg"]
    assert _unchecked_pyc(layer / "segno" / "__init__.py")
