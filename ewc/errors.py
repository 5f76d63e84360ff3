"""The one exception family the CLI turns into a single line on stderr and exit status 2."""


class EwcError(Exception):
    """A problem the user can fix (bad input, missing data); printed as one line, no traceback."""


class ConfigError(EwcError):
    """An invalid run parameter."""


class DataError(EwcError):
    """MNIST could not be found, read or verified."""
