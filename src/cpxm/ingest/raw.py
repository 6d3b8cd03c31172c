"""What every reader shares: a row as read, the error that stops a file, how text rows are
decoded, and why a value cannot be stored as text."""

from __future__ import annotations

import codecs
from dataclasses import dataclass

RawRow = dict[str, str | None]


@dataclass(frozen=True)
class RawRecord:
    """One row as read; ``problem`` says why it cannot be used at all (wrong shape)."""

    row_number: int
    values: RawRow
    problem: str | None = None


class ReadError(ValueError):
    """The file cannot be read as the mapping says; nothing was imported."""


# Undeclared, a row is read as UTF-8, else as Windows-1252 (which reads Latin-1's letters alike).
# A row neither decodes is quarantined: Latin-1 would "decode" it into control characters.
_GUESSED = ("utf-8", "cp1252")
_SHOWN_NAMES = {"utf-8": "UTF-8", "cp1252": "Windows-1252"}


@dataclass(frozen=True)
class TextEncoding:
    """How a text file's rows are decoded: per row by ``candidates`` (the file's bytes are read
    as Latin-1, one character per byte, so splitting never depends on the encoding), or as a
    whole by ``codec`` when ASCII bytes may stand inside its characters (UTF-16, Shift-JIS)."""

    candidates: tuple[str, ...]
    declared: bool
    codec: str | None = None

    def describe(self) -> str:
        names = [_SHOWN_NAMES.get(name, name) for name in self.candidates]
        if self.declared:
            return f"{names[0]} (the mapping's file.encoding)"
        return " or ".join(names)

    def decode(
        self, fields: list[str], names: list[str] | None = None
    ) -> tuple[list[str], str | None]:
        """``fields`` as read (one character per byte) decoded; on failure, shown with
        replacement characters, and the reason (naming the column from ``names``)."""
        if self.codec is not None or "".join(fields).isascii():
            return fields, None
        return self.decode_bytes([field.encode("latin-1") for field in fields], names)

    def decode_bytes(
        self, raw: list[bytes], names: list[str] | None = None
    ) -> tuple[list[str], str | None]:
        for candidate in self.candidates:
            try:
                return [value.decode(candidate) for value in raw], None
            except UnicodeDecodeError:
                continue
        first = self.candidates[0]
        byte, where = 0, 0
        for index, value in enumerate(raw):
            try:
                value.decode(first)
            except UnicodeDecodeError as error:
                byte, where = value[error.start], index
                break
        shown = [value.decode(first, errors="replace") for value in raw]
        advice = (
            "correct the row, or the mapping's file.encoding"
            if self.declared
            else "set file.encoding in the mapping to the encoding this row was written in"
        )
        if names is None:
            place = "the line" if len(raw) == 1 else f"value {where + 1}"
        else:
            place = f"column '{names[where]}'" if where < len(names) else f"value {where + 1}"
        return shown, (
            f"cannot be decoded: byte 0x{byte:02x} in {place} is not {self.describe()} text; "
            + advice
        )


def text_encoding(encoding: str | None) -> TextEncoding:
    if not encoding:
        return TextEncoding(_GUESSED, declared=False)
    try:
        name = codecs.lookup(encoding).name
    except LookupError:
        raise ReadError(f"unknown encoding '{encoding}' in the mapping") from None
    if name in ("utf-8", "utf-8-sig"):
        return TextEncoding(("utf-8",), declared=True)
    if _splits_as_ascii(name):
        return TextEncoding((name,), declared=True)
    return TextEncoding((name,), declared=True, codec=name)


def _splits_as_ascii(codec: str) -> bool:
    """Whether every byte of ``codec`` is one character and ASCII stays ASCII: then splitting
    the bytes into lines and values cannot cut a character."""
    try:
        decoded = bytes(range(256)).decode(codec)
    except UnicodeDecodeError:
        decoded = ""
        for byte in range(256):
            try:
                piece = bytes([byte]).decode(codec)
            except UnicodeDecodeError:
                piece = "\ufffd"
            if len(piece) != 1:
                return False
            decoded += piece
    return len(decoded) == 256 and decoded[:128] == "".join(map(chr, range(128)))


def text_problem(values: RawRow) -> str | None:
    """Why a row's values cannot be stored as text, or None: PostgreSQL refuses the NUL
    character, and a lone surrogate (JSON's "\\ud800") is no character at all."""
    for column, value in values.items():
        if value is None or (value.isascii() and "\x00" not in value):
            continue
        if "\x00" in value:
            return (
                f"column '{column}' contains a NUL character (byte 0), which text cannot hold; "
                "remove it from the export"
            )
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as error:
            return (
                f"column '{column}' holds a lone surrogate (\\u{ord(value[error.start]):04x}), "
                "half of a character, which text cannot hold; correct the export"
            )
    return None
