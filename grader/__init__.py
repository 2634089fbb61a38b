"""dl101: autograded assignments and quizzes for a Deep Learning 101 course (CNN week)."""

__version__ = "0.1.0"
