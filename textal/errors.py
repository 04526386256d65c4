"""The one exception type users see: a problem they can fix, reported as one line, exit code 2."""


def show_value(value: str, limit: int = 60) -> str:
    """``repr`` of a user value, shortened: messages stay one readable line."""
    return repr(value) if len(value) <= limit else repr(value[:limit]) + "…"


class TextalError(Exception):
    """A problem with the user's input or setup.

    The message is one line that names the file, row, field or setting at fault. The CLI prints it
    as ``error: <message>`` and exits with code 2; nothing already stored or labeled is changed.
    """
