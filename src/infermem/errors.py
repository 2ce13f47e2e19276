"""One error family: the CLI prints the message, never a traceback.

`BadInput` (exit 2) is for what the user handed us: a malformed file, an
unknown operator, a dynamic shape without `--input-shape`.  `Failure` (exit 1)
is for a check that ran and said no: a plan that does not validate, outputs
that differ, an arena that is too small.
"""


class InfermemError(Exception):
    exit_code = 1


class BadInput(InfermemError):
    exit_code = 2


class Failure(InfermemError):
    exit_code = 1
