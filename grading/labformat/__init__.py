"""Lab format: lab.toml, nbgrader cell metadata, learner versions, local validation.

A lab is ``labs/<id>/`` with a ``lab.toml`` and nbgrader source notebooks; see
``labs/README.md``. The functions here are the library the ``ai4scale lab``
commands and the grading engine call.
"""

from ._autograde import (
    ItemResult,
    autograde_locally,
    execute_locally,
    iter_items,
    prepare_submission,
    score_cell,
)
from ._lab import (
    BuildReport,
    build_lab,
    check_guided,
    find_labs,
    import_nbgrader,
    lab_items,
    lab_tracks,
    read_lab_notebooks,
    stale_orphans,
    track_dir,
    validate_lab,
)
from ._labtoml import FORMAT_VERSION, LAB_SCHEMA, Lab, LabError, dump_lab_toml, load_lab
from ._learner import (
    CODE_STUBS,
    TEXT_STUB,
    compute_checksum,
    learner_version,
    notebook_bytes,
    read_source_notebook,
)
from ._metadata import (
    NBGRADER_SCHEMA_VERSION,
    MetadataError,
    is_grade,
    is_locked,
    is_solution,
    is_task,
    upgrade_cell_metadata,
    validate_notebook_metadata,
)
from ._tracks import (
    DEFAULT_TRACK,
    GUIDED_MAX_LINES,
    TRACKS,
    cell_track,
    exercise_titles,
    guided_changes,
    guided_source,
    has_guided,
)

__all__ = [
    "DEFAULT_TRACK",
    "GUIDED_MAX_LINES",
    "TRACKS",
    "cell_track",
    "check_guided",
    "exercise_titles",
    "guided_changes",
    "guided_source",
    "has_guided",
    "lab_tracks",
    "track_dir",
    "CODE_STUBS",
    "FORMAT_VERSION",
    "LAB_SCHEMA",
    "NBGRADER_SCHEMA_VERSION",
    "TEXT_STUB",
    "BuildReport",
    "ItemResult",
    "Lab",
    "LabError",
    "MetadataError",
    "autograde_locally",
    "build_lab",
    "compute_checksum",
    "dump_lab_toml",
    "execute_locally",
    "iter_items",
    "find_labs",
    "import_nbgrader",
    "is_grade",
    "is_locked",
    "is_solution",
    "is_task",
    "lab_items",
    "learner_version",
    "load_lab",
    "notebook_bytes",
    "prepare_submission",
    "read_lab_notebooks",
    "read_source_notebook",
    "score_cell",
    "stale_orphans",
    "upgrade_cell_metadata",
    "validate_lab",
    "validate_notebook_metadata",
]
