"""Errors shared across domains. Each carries a message fit to show a user."""


class KloseError(Exception):
    """Base class for errors with a user-facing message."""


class NotFound(KloseError):
    pass


class PermissionDenied(KloseError):
    pass


class DatabaseUnavailable(KloseError):
    pass
