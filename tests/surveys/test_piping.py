"""Names piped into a survey's text: a missing name never leaves "Dear , ..." behind."""

from __future__ import annotations

import pytest

from cpxm.surveys.definition import pipe_names


@pytest.mark.parametrize(
    ("text", "names", "expected"),
    [
        ("Dear {first_name}, this takes three minutes.", {}, "This takes three minutes."),
        (
            "Dear {first_name}, this takes three minutes.",
            {"first_name": "Ada"},
            "Dear Ada, this takes three minutes.",
        ),
        ("Thank you, {first_name}! We read every answer.", {}, "Thank you! We read every answer."),
        ("Welcome. Dear Dr {last_name}, how was it?", {"last_name": ""}, "Welcome. How was it?"),
        ("Liebe(r) {first_name}, das dauert drei Minuten.", {}, "Das dauert drei Minuten."),
        ("{survey_name}: how did we do?", {"survey_name": "Pulse"}, "Pulse: how did we do?"),
    ],
)
def test_a_missing_name_takes_its_salutation_with_it(
    text: str, names: dict[str, str], expected: str
) -> None:
    assert pipe_names(text, names) == expected
