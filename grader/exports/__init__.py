"""Exports for the systems instructors already use.

- :mod:`grader.exports.canvas`: a grades CSV in Canvas's gradebook import format.
- :mod:`grader.exports.autograder`: a Gradescope autograder zip (``setup.sh`` +
  ``run_autograder``) that grades one submission with dl101 inside Gradescope's container.

The nbgrader gradebook lives in :mod:`grader.gradebook`.
"""
