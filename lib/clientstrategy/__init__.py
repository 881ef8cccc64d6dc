"""clientstrategy: the helper package of the client strategy workbook.

Layers, read top-down (an import never runs upward):

* ``runner``, ``report``, ``cli``, ``nb``, ``widgets`` -- know the notebooks, no statistics;
* analyses: ``outcomes``, ``clv``, ``activities``, ``context``, ``voice``, ``third_party``,
  ``strategy``, ``execution``, ``monitoring`` -- pure functions of DataFrames;
* bottom: ``schema``, ``io``, ``mapping``, ``validate``, ``sample``, ``paths``.
"""

__version__ = "0.1.0"
