"""The one exception type users see: a problem they can fix, reported as one line, exit code 2."""


class TextalError(Exception):
    """A problem with the user's input or setup.

    The message is one line that names the file, row, field or setting at fault. The CLI prints it
    as ``error: <message>`` and exits with code 2; nothing already stored or labeled is changed.
    """
