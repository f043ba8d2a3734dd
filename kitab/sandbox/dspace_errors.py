"""The one exception the DSpace sandbox raises to answer with an error status.

It carries what DSpace puts in its Spring Boot error body (status and message), so every layer
can refuse a request the way DSpace would without knowing how the body is rendered.
"""

from __future__ import annotations


class ApiError(Exception):
    def __init__(self, status: int, message: str = "", headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}
