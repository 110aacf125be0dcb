"""Errors that reach the user as one clear line (the CLI prints ``tusk: error: <message>``)."""


class TuskError(Exception):
    """A problem the user can fix: bad input, a missing file or model, a missing extra."""


class DataError(TuskError):
    """A data file is missing, corrupt or malformed; the message names the file and, where known, the line."""


class MissingExtraError(TuskError):
    """An optional dependency is not installed; the message names the pip extra that provides it."""

    def __init__(self, what: str, extra: str, cause: BaseException | None = None):
        detail = f" ({cause})" if cause else ""
        super().__init__(f"{what} needs the optional extra [{extra}]: pip install 'tusk[{extra}]'{detail}")
        self.extra = extra


def yaml_error(path: object, exc: Exception) -> str:
    """One line for a YAML syntax error: ``FILE line L, column C: problem (context)``."""
    mark = getattr(exc, "problem_mark", None)
    where = f" line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    detail = f"{problem} ({context})" if context else problem
    return f"{path}{where}: not valid YAML: {' '.join(str(detail).split())}"
