"""Every path of the project, derived from this file's location, never from the working directory.

Jupyter and papermill start kernels in different folders, so notebooks and the runner ask this
module where things are.
"""
from pathlib import Path

__all__ = ["DATA", "DEV_ARTIFACTS", "MAPPINGS", "NOTEBOOKS", "REPORTS", "ROOT", "SAMPLE"]

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
DATA = ROOT / "data"
SAMPLE = DATA / "sample"
MAPPINGS = DATA / "mappings"
REPORTS = ROOT / "reports"
DEV_ARTIFACTS = REPORTS / "dev" / "artifacts"
