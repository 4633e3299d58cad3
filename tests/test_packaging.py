"""Installs that fit: version ranges in pyproject.toml, the tested versions in constraints.txt."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _requirements() -> list[Requirement]:
    extras = [r for group in PROJECT["optional-dependencies"].values() for r in group]
    return [Requirement(text) for text in [*PROJECT["dependencies"], *extras]]


def _constraints() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"constraints.txt: not an exact pin: {line}"
            pins[canonicalize_name(name)] = version.strip()
    return pins


def test_python_311_to_313():
    supported = SpecifierSet(PROJECT["requires-python"])
    assert all(f"3.{minor}" in supported for minor in (11, 12, 13)) and "3.14" not in supported


def test_dependencies_are_ranges_not_one_build():
    for requirement in _requirements():
        assert not any(spec.operator in ("==", "===") for spec in requirement.specifier), requirement
        assert "+" not in str(requirement), f"a local build tag: {requirement}"


def test_constraints_pin_every_dependency_inside_its_range():
    pins = _constraints()
    for requirement in _requirements():
        name = canonicalize_name(requirement.name)
        assert name in pins, f"constraints.txt does not pin {name}"
        assert requirement.specifier.contains(pins[name], prereleases=True), (name, pins[name])


def test_setup_installs_with_the_constraints():
    setup = (ROOT / "scripts" / "setup").read_text()
    installs = [line for line in setup.splitlines() if re.search(r"pip install", line)]
    assert installs and all("-c constraints.txt" in line for line in installs)
