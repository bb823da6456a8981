# All metadata lives in setup.cfg; this shim keeps `python setup.py` tooling working.
from setuptools import setup

setup()
