"""``omnistock bench``: runs the benchmarks, compares each with its ceiling, writes a report.

``sections`` measures (each starting what it needs), ``report`` writes ``results.json``,
``report.md`` and the plots, ``run`` ties them to the command line.
"""
