"""The classroom: what instructors and maintainers use around the course, never a learner's notebook.

Grading submissions (``grading`` with its ``plugin``, warm ``kernels``, prebuilt ``runs`` and
``reports``), restoring ``check_cells``, writing exercises from solutions (``authoring``), the
nbgrader export, the student edition (``release``, which leaves this folder out) and the Colab
badges and install guards (``colab``). Nothing outside this folder imports it but the CLI.
"""
