"""The words of the respondent pages around the survey's own text, in the languages we ship.

A survey's questions are translated in its definition; these are the buttons, notices and
messages. A language without an entry falls back to English.
"""

from __future__ import annotations

from cpxm.surveys.definition import KANO_ANSWERS

_EN = {
    "next": "Next",
    "back": "Back",
    "submit": "Send my answers",
    "save": "Save and finish later",
    "page_of": "Page {page} of {pages}",
    "required": "required",
    "optional": "optional",
    "needs_answer": "This question needs an answer.",
    "fix_errors": "Some answers need your attention. Each one is marked below.",
    "saved": "Your answers are saved. Come back to this address at any time to finish.",
    "resume_note": "Keep this address to finish later: your answers are saved on each page.",
    "thank_you_title": "Thank you",
    "thank_you": "Your answers have reached us. Thank you for your time.",
    "invalid_title": "This link does not work",
    "invalid": (
        "The survey link is not complete or not correct. Please open it again from the message "
        "you received, or copy the whole address."
    ),
    "expired_title": "This survey link has expired",
    "expired": "The time to answer this survey is over. Thank you for wanting to take part.",
    "closed_title": "This survey is closed",
    "closed": "This survey no longer takes answers. Thank you for wanting to take part.",
    "completed_title": "You have already answered",
    "completed": "We have your answers from this link. Thank you again.",
    "language": "Language",
    "kano_functional": "If this were available:",
    "kano_dysfunctional": "If this were not available:",
    "kano_like": "I would like it",
    "kano_expect": "I expect it",
    "kano_neutral": "I am neutral",
    "kano_tolerate": "I can live with it",
    "kano_dislike": "I would dislike it",
    "characters_max": "at most {count} characters",
    "confidential_title": "Your answers are confidential",
    "confidential": (
        "Nobody sees your answers one by one, nor your name beside them: not your manager, not "
        "the people team, not the analysts. Results are shown only for groups of at least "
        "{minimum} colleagues, and hidden where a smaller group could be worked out from them. "
        "Comments are shown only for such groups, with names and details that could identify "
        "anyone removed. No follow-up is ever opened on one person's answers; your team acts on "
        "its results as a group. The people team sees only whether you have answered, so that "
        "it can remind those who have not."
    ),
}
_DE = {
    "confidential_title": "Ihre Antworten sind vertraulich",
    "confidential": (
        "Niemand sieht Ihre Antworten einzeln oder Ihren Namen daneben: weder Ihre "
        "Führungskraft noch das Personalteam noch die Analysten. Ergebnisse werden nur für "
        "Gruppen von mindestens {minimum} Kolleginnen und Kollegen gezeigt und verborgen, wo "
        "sich eine kleinere Gruppe aus ihnen errechnen ließe. Kommentare erscheinen nur für "
        "solche Gruppen, ohne Namen und Angaben, die jemanden erkennbar machen. Auf die "
        "Antworten einer einzelnen Person folgt nie ein Fall; Ihr Team handelt auf seine "
        "Ergebnisse als Gruppe. Das Personalteam sieht nur, ob Sie geantwortet haben, um an "
        "die Umfrage zu erinnern."
    ),
    "next": "Weiter",
    "back": "Zurück",
    "submit": "Antworten senden",
    "save": "Speichern und später fortsetzen",
    "page_of": "Seite {page} von {pages}",
    "required": "Pflichtfrage",
    "optional": "optional",
    "needs_answer": "Bitte beantworten Sie diese Frage.",
    "fix_errors": "Einige Antworten brauchen Ihre Aufmerksamkeit; sie sind unten markiert.",
    "saved": "Ihre Antworten sind gespeichert. Sie können jederzeit über diese Adresse fortsetzen.",
    "thank_you_title": "Vielen Dank",
    "thank_you": "Ihre Antworten sind bei uns angekommen. Danke für Ihre Zeit.",
    "invalid_title": "Dieser Link funktioniert nicht",
    "expired_title": "Dieser Umfragelink ist abgelaufen",
    "closed_title": "Diese Umfrage ist geschlossen",
    "completed_title": "Sie haben bereits geantwortet",
    "language": "Sprache",
}
_FR = {
    "next": "Suivant",
    "back": "Retour",
    "submit": "Envoyer mes réponses",
    "save": "Enregistrer et finir plus tard",
    "page_of": "Page {page} sur {pages}",
    "required": "obligatoire",
    "optional": "facultatif",
    "needs_answer": "Merci de répondre à cette question.",
    "fix_errors": "Certaines réponses demandent votre attention ; elles sont signalées ci-dessous.",
    "thank_you_title": "Merci",
    "thank_you": "Vos réponses nous sont parvenues. Merci pour votre temps.",
    "invalid_title": "Ce lien ne fonctionne pas",
    "expired_title": "Ce lien d'enquête a expiré",
    "closed_title": "Cette enquête est close",
    "completed_title": "Vous avez déjà répondu",
    "language": "Langue",
}
_ES = {
    "next": "Siguiente",
    "back": "Atrás",
    "submit": "Enviar mis respuestas",
    "save": "Guardar y terminar más tarde",
    "page_of": "Página {page} de {pages}",
    "required": "obligatoria",
    "optional": "opcional",
    "needs_answer": "Por favor, responda a esta pregunta.",
    "thank_you_title": "Gracias",
    "thank_you": "Hemos recibido sus respuestas. Gracias por su tiempo.",
    "invalid_title": "Este enlace no funciona",
    "expired_title": "Este enlace de encuesta ha caducado",
    "closed_title": "Esta encuesta está cerrada",
    "completed_title": "Ya ha respondido",
    "language": "Idioma",
}
_JA = {
    "next": "次へ",
    "back": "戻る",
    "submit": "回答を送信",
    "page_of": "{page} / {pages} ページ",
    "required": "必須",
    "optional": "任意",
    "needs_answer": "この質問に回答してください。",
    "thank_you_title": "ありがとうございました",
    "thank_you": "回答を受け付けました。ご協力ありがとうございました。",
    "language": "言語",
}
UI_TEXT = {"en": _EN, "de": _DE, "fr": _FR, "es": _ES, "ja": _JA}
# The ends of the standard score scales, shown when a question names none: NPS likelihood,
# CSAT satisfaction, CES agreement with "it was easy to ..." (CES 2.0, higher is easier).
_SCALE_ENDS = {
    "en": (
        "Not at all likely",
        "Extremely likely",
        "Very dissatisfied",
        "Very satisfied",
        "Strongly disagree",
        "Strongly agree",
    ),
    "de": (
        "Überhaupt nicht wahrscheinlich",
        "Äußerst wahrscheinlich",
        "Sehr unzufrieden",
        "Sehr zufrieden",
        "Stimme überhaupt nicht zu",
        "Stimme voll und ganz zu",
    ),
    "fr": (
        "Pas du tout probable",
        "Extrêmement probable",
        "Très insatisfait",
        "Très satisfait",
        "Pas du tout d'accord",
        "Tout à fait d'accord",
    ),
    "es": (
        "Nada probable",
        "Extremadamente probable",
        "Muy insatisfecho",
        "Muy satisfecho",
        "Totalmente en desacuerdo",
        "Totalmente de acuerdo",
    ),
    "ja": (
        "まったく可能性がない",
        "非常に可能性が高い",
        "非常に不満",
        "非常に満足",
        "まったくそう思わない",
        "とてもそう思う",
    ),
}
_SCALE_KEYS = ("nps_low", "nps_high", "csat_low", "csat_high", "ces_low", "ces_high")


def ui_text(language: str) -> dict[str, str]:
    """Every UI string in ``language``, English where a translation is missing."""
    ends = dict(zip(_SCALE_KEYS, _SCALE_ENDS.get(language, _SCALE_ENDS["en"]), strict=True))
    return {**_EN, **UI_TEXT.get(language, {}), **ends}


def kano_labels(language: str) -> list[tuple[str, str]]:
    words = ui_text(language)
    return [(answer, words[f"kano_{answer}"]) for answer in KANO_ANSWERS]
