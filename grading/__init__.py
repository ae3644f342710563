"""The grading engine for nbgrader-format labs (the grading issue fills this)."""
