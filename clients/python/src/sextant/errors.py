"""The errors the client raises: one class per kind of answer, with the server's message."""

from __future__ import annotations

from typing import Any


class SextantError(Exception):
    """An error from Sextant: the HTTP status (``None`` when the server was not reached), the
    API's error code and its message."""

    def __init__(
        self,
        message: str,
        status: int | None = None,
        code: str | None = None,
        details: Any = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.details = details

    def __str__(self) -> str:
        if self.status is None:
            return self.message
        return f"{self.message} (HTTP {self.status}, {self.code})"


class Unreachable(SextantError):
    """No answer: no server at the address, or the network failed."""


class BadRequest(SextantError):
    """400: the path, query or body is malformed."""


class Unauthorized(SextantError):
    """401: the token is missing, malformed, unknown, expired or revoked."""


class Forbidden(SextantError):
    """403: the caller's role is too low for this."""


class NotFound(SextantError):
    """404: no such project, model, dataset or job (or none the caller may see)."""


class NoResult(NotFound):
    """404: the result asked for has not been computed yet."""


class Conflict(SextantError):
    """409: a name is taken, or a thing is in use."""


class PayloadTooLarge(SextantError):
    """413: an upload or body is over the server's limit."""


class InvalidInput(SextantError):
    """422: the request does not fit the project (a feature it lacks, a wrong column)."""


class TooManyRequests(SextantError):
    """429: this address failed to authenticate too often; retry later."""


class ServerError(SextantError):
    """5xx: the server or a service behind it failed."""


_BY_STATUS = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    413: PayloadTooLarge,
    422: InvalidInput,
    429: TooManyRequests,
}


def from_answer(status: int, body: Any, text: str) -> SextantError:
    """The error an answer of ``status`` stands for, from the API's error body when it has one."""
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        message = str(error.get("message", text))
        code = error.get("code")
        details = error.get("details")
    else:
        message, code, details = text.strip() or f"HTTP {status}", None, None
    if code == "no_result":
        return NoResult(message, status, code, details)
    kind = _BY_STATUS.get(status, ServerError if status >= 500 else SextantError)
    return kind(message, status, code, details)
