"""Kept so that `python setup.py ...` and old pip keep working; the metadata is in
pyproject.toml. setuptools before 61 (Amazon Linux 2023's python3-setuptools is 59.6) cannot
read it there, and would build an empty "UNKNOWN 0.0.0", so for those the same metadata is
given here (tests/cli_test.py checks the two agree)."""

import re
from pathlib import Path

import setuptools

HERE = Path(__file__).resolve().parent


def _version() -> str:
    found = re.search(r'__version__ = "([^"]+)"', (HERE / "agentkit" / "__init__.py").read_text())
    if found is None:
        raise SystemExit("setup.py: agentkit/__init__.py has no __version__ = \"...\" line")
    return found.group(1)


LEGACY = {
    "name": "agentkit",
    "version": _version(),
    "description": "Lint, verify and deploy-time hooks for AWS CodeDeploy EC2/on-premises "
                   "bundles",
    "python_requires": ">=3.9",
    "license": "Apache-2.0",
    "install_requires": ["PyYAML>=5.4", "psutil>=5.8", "requests>=2.25", "structlog>=21.1"],
    "extras_require": {"s3": ["boto3>=1.26"]},  # verify s3://, agentkit push
    "packages": setuptools.find_packages(str(HERE), include=["agentkit*"]),
    "package_data": {"agentkit": ["py.typed", "data/*.json"]},
    "include_package_data": True,
    "entry_points": {"console_scripts": ["agentkit = agentkit.cli:main"]},
}

if __name__ == "__main__":
    if int(setuptools.__version__.split(".")[0]) >= 61:
        setuptools.setup(license=LEGACY["license"])  # dynamic in pyproject.toml
    else:
        setuptools.setup(**LEGACY)
