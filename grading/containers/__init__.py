"""Grading in containers (the ``docker`` executor) and its Kubernetes Job counterpart."""
