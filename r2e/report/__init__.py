"""Failure-mode reports over build (and genexec) results: load, classify, aggregate, chart, render."""
