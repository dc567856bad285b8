"""Errors raised for technical wishes that kmidi cannot honour."""

from __future__ import annotations


class TechnicalWishError(ValueError):
    """A technical wish (key, progression, rule break, …) that is not understood.

    ``code`` is stable and machine-readable ("invalid_key", "invalid_progression",
    "invalid_rule_break", "invalid_time_signature", "invalid_bpm", "invalid_length");
    ``message`` says what was wrong and what is accepted, fit to show a person.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}

    def __reduce__(self) -> tuple[type[TechnicalWishError], tuple[str, str]]:
        # Keeps the error picklable across process pools (ValueError pickles args only).
        return (type(self), (self.code, self.message))
