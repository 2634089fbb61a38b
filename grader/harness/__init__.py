"""Grading harnesses: trusted code that runs INSIDE the sandbox child, after the student's cells.

Some assignments cannot be graded by calling one student function at a time: the CNN lab
trains the student's Keras model, and a Keras model cannot cross the sandbox boundary (only
plain data does). A harness does that work next to the student's code:

    student.harness("cnn_lab", "train_and_predict", x_train, y_train, x_test, ..., timeout=50)

calls ``grader.harness.cnn_lab.train_and_predict(namespace, x_train, ...)`` in the child
(``Session.run_harness``), where ``namespace`` holds the notebook's globals. A harness

- returns plain data only (numbers, strings, lists, dicts with str keys, numpy arrays): facts
  such as layer class names or predicted labels, never a verdict;
- is handed only what the student may see (training data, images to label), never an
  expected answer: the trusted grader keeps those and judges the facts it gets back;
- runs in the student's process after the student's code, so its result is student data like
  any other: the grader validates it as if the student had written it.
"""
