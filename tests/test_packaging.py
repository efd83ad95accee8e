"""environment.yml must install what pyproject.toml pins: the two drift apart silently otherwise."""

import re
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
# The ML stack whose versions were verified together (pyproject.toml, `cpu` extra).
PINNED = ("torch", "transformers", "trl", "peft", "datasets")


def pyproject_requirements(text: str) -> dict[str, Requirement]:
    """Every requirement in [project] dependencies and optional-dependencies, by canonical name."""
    project = tomllib.loads(text)["project"]
    lines = list(project.get("dependencies", []))
    for extra in project.get("optional-dependencies", {}).values():
        lines += extra
    return {canonicalize_name(r.name): r for r in map(Requirement, lines)}


def environment_requirements(text: str) -> dict[str, Requirement]:
    """The requirements in environment.yml's pip section; pip options such as `-e .[...]` are skipped."""
    lines = []
    for dep in yaml.safe_load(text)["dependencies"]:
        if isinstance(dep, dict) and "pip" in dep:
            lines += [line for line in dep["pip"] if not line.startswith("-")]
    return {canonicalize_name(r.name): r for r in map(Requirement, lines)}


def pin_mismatches(pyproject_text: str, environment_text: str) -> list[str]:
    """Disagreements between the two files: a PINNED package must be pinned (==) identically in both,
    and any other package listed in both must carry the same specifier."""
    ours = pyproject_requirements(pyproject_text)
    env = environment_requirements(environment_text)
    problems = []
    for name in PINNED:
        a, b = ours.get(name), env.get(name)
        if a is None or b is None:
            where = "pyproject.toml" if a is None else "environment.yml"
            problems.append(f"{name}: not listed in {where}")
        elif not str(a.specifier).startswith("==") or str(a.specifier) != str(b.specifier):
            problems.append(f"{name}: pyproject.toml has '{a.specifier}', environment.yml has '{b.specifier}'")
    for name in sorted(ours.keys() & env.keys() - set(PINNED)):
        if str(ours[name].specifier) != str(env[name].specifier):
            problems.append(
                f"{name}: pyproject.toml has '{ours[name].specifier}', environment.yml has '{env[name].specifier}'"
            )
    return problems


def test_environment_yml_agrees_with_pyproject():
    problems = pin_mismatches((ROOT / "pyproject.toml").read_text(), (ROOT / "environment.yml").read_text())
    assert problems == [], "environment.yml and pyproject.toml disagree:\n" + "\n".join(problems)


def test_environment_yml_installs_the_project_with_its_extras():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    deps = env["dependencies"]
    assert "python=3.11" in deps and "pip" in deps
    pip_lines = next(d["pip"] for d in deps if isinstance(d, dict) and "pip" in d)
    # The same extras as `make install`, so conda users get what the Makefile installs.
    makefile_extras = re.search(r'pip install -e "\.\[([a-z,]+)\]"', (ROOT / "Makefile").read_text())[1]
    assert f"-e .[{makefile_extras}]" in pip_lines


PYPROJECT = """
[project]
name = "x"
dependencies = ["numpy>=1.26"]
[project.optional-dependencies]
cpu = ["torch==2.13.0", "transformers==5.17.0", "trl==1.14.2", "peft==0.21.2", "datasets==4.8.5"]
"""
ENVIRONMENT = """
dependencies:
  - python=3.11
  - pip
  - pip:
      - torch==2.13.0
      - transformers==5.17.0
      - trl==1.14.2
      - peft==0.21.2
      - datasets==4.8.5
      - -e .[cpu,book,dev]
"""


@pytest.mark.parametrize(
    "pyproject, environment, expected",
    [
        (PYPROJECT, ENVIRONMENT, []),
        (PYPROJECT, ENVIRONMENT.replace("trl==1.14.2", "trl==1.15.0"), ["trl: pyproject.toml has '==1.14.2'"]),
        (PYPROJECT, ENVIRONMENT.replace("      - peft==0.21.2\n", ""), ["peft: not listed in environment.yml"]),
        (PYPROJECT.replace("torch==2.13.0", "torch>=2"), ENVIRONMENT.replace("torch==2.13.0", "torch>=2"),
         ["torch: pyproject.toml has '>=2'"]),
        (PYPROJECT, ENVIRONMENT.replace("  - pip:\n", "  - pip:\n      - numpy>=2\n"),
         ["numpy: pyproject.toml has '>=1.26'"]),
    ],
    ids=["agree", "version-differs", "missing", "not-pinned", "other-package-differs"],
)
def test_pin_mismatches_catches_drift(pyproject, environment, expected):
    problems = pin_mismatches(pyproject, environment)
    assert len(problems) == len(expected), problems
    for problem, start in zip(problems, expected):
        assert problem.startswith(start)
