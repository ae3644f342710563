"""Use cases: a team's own data, model and impact assessment, kept by the course service."""

# The intake's public names (cheap: pandas, pyarrow and stdnum load on first use).
from ._intake import Intake, IntakeError
from ._read import Detected, detect
from ._scan import scan_frame, scan_text

__all__ = ["Detected", "Intake", "IntakeError", "detect", "scan_frame", "scan_text"]
