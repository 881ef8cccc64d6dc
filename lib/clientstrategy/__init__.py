"""clientstrategy: the helper package of the client strategy workbook.

Layers, read top-down (an import never runs upward):

* ``runner``, ``report``, ``cli``, ``nb``, ``widgets`` -- know the notebooks, no statistics;
* analyses: ``outcomes``, ``clv``, ``activities``, ``context``, ``voice``, ``third_party``,
  ``strategy``, ``execution``, ``monitoring`` -- pure functions of DataFrames (event tables
  may also be ``features.EngineTable``: aggregated in DuckDB or Spark);
* bottom: ``schema``, ``io``, ``mapping``, ``validate``, ``features``, ``sample``, ``paths``.
"""

import warnings as _warnings

# pandera imports pyspark.pandas whenever PySpark is installed (it is, for the Spark engine), and
# PySpark warns at import that it does not support pandas 3 fully. The workbook never uses
# pyspark.pandas (Spark runs SQL and returns Arrow-converted pandas), so the warning is noise in
# every notebook and report.
_warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)

__version__ = "0.1.0"
