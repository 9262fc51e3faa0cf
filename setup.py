"""Maps the three top-level folders onto ``jobledger.*`` and finds every subpackage in
them, so a new folder cannot be left out of the wheel (pyproject.toml holds the rest)."""

from setuptools import find_packages, setup

FOLDERS = ("domain", "projections", "adapters")

setup(
    package_dir={f"jobledger.{folder}": folder for folder in FOLDERS},
    packages=[
        f"jobledger.{folder}{'.' + found if found else ''}"
        for folder in FOLDERS
        for found in ["", *find_packages(folder)]
    ],
)
