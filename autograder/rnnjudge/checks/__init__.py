"""The hidden checks, one module per task group; importing this package registers them all,
in task order (the order the judge runs them and the feedback lists them)."""

from . import models  # noqa: F401 - Tasks 1 and 2
from . import loss  # noqa: F401 - Task 3
from . import evaluate  # noqa: F401 - Task 4
from . import grad_norm  # noqa: F401 - Task 5
from . import through_time  # noqa: F401 - Task 6
