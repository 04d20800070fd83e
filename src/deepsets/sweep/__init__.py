"""Sweeps of tasks x models x seeds (``compare``), their cost before they run (``costs``)
and their summary. Built on ``core`` (and ``lab``'s figures)."""
