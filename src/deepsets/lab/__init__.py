"""The handout's lab on one run folder: the run (``run.run_lab``), the numbers behind its
questions and the drift, the figures and ``report.md``. It imports ``core``, never
``sweep``."""
