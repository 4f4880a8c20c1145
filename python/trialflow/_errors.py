"""The exceptions trialflow raises, shared by the native module and the Python layer."""


class TrialflowError(Exception):
    """Base class of trialflow's own exceptions."""


class UserError(TrialflowError, ValueError):
    """Something the caller can fix: a bad pipeline, parameter, input file or argument.

    ``trialflow run`` exits with code 2 for these; the message is the CLI's one line.
    """


class RunError(TrialflowError, RuntimeError):
    """The run itself failed (I/O, a routine failing on a trial, an internal error).

    ``trialflow run`` exits with code 1 for these; the message is the CLI's one line.
    Completed work of an interrupted run is kept for ``resume=True``.
    """
