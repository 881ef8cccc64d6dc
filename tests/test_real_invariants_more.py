"""The invariant suite of ``test_real_invariants.py`` on its other datasets (CDNOW, Olist e-commerce, the CRM
worked example): a file of its own so that ``make test``'s two workers (``--dist loadfile``) share the runs."""
from __future__ import annotations

import pytest

import test_real_invariants as _suite
from test_real_invariants import *

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", params=_suite.RUNS_MORE)
def run(request, tmp_path_factory):
    """One dataset through the runner and what the checks read from it."""
    return _suite.run_dataset(request.param, tmp_path_factory)
