"""Record-level access: which fields of which record a role gets, decided here and nowhere else.

Four kinds of content are protected, each by the data domain a role needs to see it:

===================  ==========================  ============================================
kind                 needs                       what it is
===================  ==========================  ============================================
patient identity     ``patient_identifiable``    a patient's or caregiver's name, contacts, real id
patient free text    ``patient_identifiable``    words of or about a patient: comments, PSP notes,
                                                 text answers
medical content      ``medical``                 words from a medical department or a medical
                                                 inquiry, wherever they were copied to
safety narrative     ``safety``                  words that report an adverse event, product
                                                 complaint or special situation
===================  ==========================  ============================================

What a text is follows from where it came from (:class:`Provenance`): the department of the
interaction it was written in, the source kind, the survey, the person it is about and what the
safety screening found. So the feedback item made from a medical-affairs note is shielded like
the note, and the survey answer behind an adverse event like the event.

A role that may not see a patient's identity meets the patient as a pseudonymous key
(:mod:`cpxm.access.keys`) and never beside the real id: the record's ``stakeholder_id`` (or
``id``) is blanked wherever its key is shown.

There is one shield per kind of record (stakeholders, interactions, feedback, responses and their
answers, survey export rows, cases, analytics rows); each blanks what the role may not see and
audits, in bulk, the reads of patient, medical and safety content it let through
(:func:`cpxm.access.audit.record_read`). ``tests/access/test_fields.py`` requests every route as
every role and fails when a protected field gets through.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from cpxm.access import audit
from cpxm.access.keys import person_key, pseudonym_label, pseudonym_secret
from cpxm.access.principal import Principal
from cpxm.access.roles import MEDICAL_DEPARTMENTS, Domain
from cpxm.cases.models import Case
from cpxm.feedback.models import FeedbackAnalysis, FeedbackItem
from cpxm.interactions.models import Interaction
from cpxm.stakeholders.models import PATIENT_IDENTIFIABLE_TYPES, Stakeholder
from cpxm.surveys.models import Answer, Response, Survey

RecordT = TypeVar("RecordT")

# Where patient free text comes from besides a patient's own record: the patient-support
# programme's people and its surveys write about patients.
PATIENT_DEPARTMENTS = frozenset({"patient_services"})
PATIENT_SURVEY_KINDS = frozenset({"patient_support"})
MEDICAL_SOURCE_KINDS = frozenset({"medical_inquiry"})
MEDICAL_CASE_TYPES = frozenset({"medical_inquiry"})

# Fields that identify a person; blanked when a patient is shown under a pseudonym.
IDENTIFYING_FIELDS = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "address_line",
    "postal_code",
    "birth_date",
    "professional_id",
)
_CHUNK = 500


class Protected(StrEnum):
    IDENTITY = "patient identity"
    PATIENT_TEXT = "patient free text"
    MEDICAL = "medical content"
    SAFETY = "safety narrative"


NEEDS: dict[Protected, Domain] = {
    Protected.IDENTITY: Domain.PATIENT_IDENTIFIABLE,
    Protected.PATIENT_TEXT: Domain.PATIENT_IDENTIFIABLE,
    Protected.MEDICAL: Domain.MEDICAL,
    Protected.SAFETY: Domain.SAFETY,
}


@dataclass(frozen=True)
class Provenance:
    """What a record's words are, from where they came."""

    patient: bool = False
    medical: bool = False
    safety: bool = False

    @property
    def kinds(self) -> frozenset[Protected]:
        kinds = set()
        if self.patient:
            kinds.add(Protected.PATIENT_TEXT)
        if self.medical:
            kinds.add(Protected.MEDICAL)
        if self.safety:
            kinds.add(Protected.SAFETY)
        return frozenset(kinds)

    def __or__(self, other: Provenance) -> Provenance:
        return Provenance(
            patient=self.patient or other.patient,
            medical=self.medical or other.medical,
            safety=self.safety or other.safety,
        )


PLAIN = Provenance()


def may_see(principal: Principal, kind: Protected) -> bool:
    return principal.can_see(NEEDS[kind])


def may_read(principal: Principal, provenance: Provenance) -> bool:
    return all(may_see(principal, kind) for kind in provenance.kinds)


def withheld_reason(principal: Principal, provenance: Provenance) -> str | None:
    """Why ``principal`` may not read words of this provenance, or None when they may."""
    missing = sorted(kind.value for kind in provenance.kinds if not may_see(principal, kind))
    if not missing:
        return None
    return f"withheld from your role: {' and '.join(missing)}"


def shows_identity(principal: Principal) -> bool:
    return may_see(principal, Protected.IDENTITY)


def is_patient_identifiable(stakeholder_type: str | None) -> bool:
    return stakeholder_type in PATIENT_IDENTIFIABLE_TYPES


def hidden_person_types(principal: Principal) -> tuple[str, ...]:
    """Stakeholder types a role may not see in lists that name people (profiling lists)."""
    return () if shows_identity(principal) else PATIENT_IDENTIFIABLE_TYPES


def person_lookup(session: Session, principal: Principal, stakeholder_id: int | None) -> int | None:
    """The id a request may look a person up by: ``stakeholder_id`` itself, or None (nobody) when
    it is a patient the role may not see by identity. A profile or a filter by the real id would
    otherwise tie that id to the person's key, or confirm that the id is a patient's."""
    if stakeholder_id is None or shows_identity(principal):
        return stakeholder_id
    found = session.scalar(select(Stakeholder.type).where(Stakeholder.id == stakeholder_id))
    return None if is_patient_identifiable(found) else stakeholder_id


NOBODY = 0  # an id no record has: a filter by it matches nothing


def person_filter(session: Session, principal: Principal, stakeholder_id: int | None) -> int | None:
    """A list's ``stakeholder_id`` filter as the role may apply it: a patient the role may not
    see by identity matches nothing, exactly as an unknown id does."""
    if stakeholder_id is None:
        return None
    allowed = person_lookup(session, principal, stakeholder_id)
    return NOBODY if allowed is None else allowed


def hidden_case_types(principal: Principal) -> tuple[str, ...]:
    """Case types a role may not see at all: medical inquiries stay behind the firewall."""
    return () if principal.can_see(Domain.MEDICAL) else tuple(sorted(MEDICAL_CASE_TYPES))


@dataclass(frozen=True)
class PersonRef:
    """A person as a role may see them: the real id, or the key, never both."""

    stakeholder_id: int | None
    key: str | None
    name: str | None
    hidden: bool


class RecordView:
    """What one principal may see, for one request: looks up what it needs once, in bulk."""

    def __init__(self, session: Session, principal: Principal) -> None:
        self.session = session
        self.principal = principal
        self.identity = shows_identity(principal)
        self._types: dict[int, str] = {}

    def person(
        self, stakeholder_id: int | None, stakeholder_type: str | None, name: str | None = None
    ) -> PersonRef:
        if stakeholder_id is None:
            return PersonRef(None, None, name, hidden=False)
        if self.identity or not is_patient_identifiable(stakeholder_type):
            return PersonRef(stakeholder_id, None, name, hidden=False)
        key = person_key(pseudonym_secret(self.session), stakeholder_id)
        return PersonRef(None, key, pseudonym_label(key, stakeholder_type), hidden=True)

    def stakeholder_types(self, ids: Iterable[int | None]) -> dict[int, str]:
        wanted = {i for i in ids if i is not None and i not in self._types}
        for chunk in _chunks(sorted(wanted)):
            rows = self.session.execute(
                select(Stakeholder.id, Stakeholder.type).where(Stakeholder.id.in_(chunk))
            )
            self._types.update({stakeholder_id: s_type for stakeholder_id, s_type in rows})
        return self._types

    def ref(self, stakeholder_id: int | None) -> PersonRef:
        """The person behind a bare id (types looked up in bulk beforehand, or now)."""
        if stakeholder_id is None:
            return PersonRef(None, None, None, hidden=False)
        types = self.stakeholder_types([stakeholder_id])
        return self.person(stakeholder_id, types.get(stakeholder_id))

    def audit(self, entity_type: str, ids: Iterable[int | None], *, via: str) -> None:
        """Record, in one entry, that the principal read these protected records."""
        shown = sorted({i for i in ids if i is not None})
        audit.record_read(
            self.session, self.principal, entity_type=entity_type, entity_ids=shown, purpose=via
        )


def _view_for(session: Session, principal: Principal, view: RecordView | None) -> RecordView:
    """The caller's view (a page shielding several kinds of record looks each person's type up
    once), or a new one; a view answers for one principal only."""
    if view is None:
        return RecordView(session, principal)
    if view.principal is not principal or view.session is not session:
        raise ValueError("a RecordView shields records for its own principal and session")
    return view


# --- provenance of each kind of record, looked up in bulk -------------------------------------


def _chunks(ids: Sequence[int]) -> Iterable[Sequence[int]]:
    for start in range(0, len(ids), _CHUNK):
        yield ids[start : start + _CHUNK]


def _provenance(
    *,
    stakeholder_type: str | None = None,
    department: str | None = None,
    source_kind: str | None = None,
    survey_kind: str | None = None,
    safety_kinds: Sequence[str] | None = None,
) -> Provenance:
    return Provenance(
        patient=is_patient_identifiable(stakeholder_type)
        or department in PATIENT_DEPARTMENTS
        or survey_kind in PATIENT_SURVEY_KINDS,
        medical=department in MEDICAL_DEPARTMENTS or source_kind in MEDICAL_SOURCE_KINDS,
        safety=bool(safety_kinds),
    )


def feedback_provenance(session: Session, ids: Iterable[int | None]) -> dict[int, Provenance]:
    """Each feedback item's words: whose, from which department and survey, what screening found."""
    found: dict[int, Provenance] = {}
    for chunk in _chunks(sorted({i for i in ids if i is not None})):
        rows = session.execute(
            select(
                FeedbackItem.id,
                Stakeholder.type,
                Interaction.department_code,
                FeedbackItem.source_kind,
                Survey.kind,
                FeedbackAnalysis.safety_kinds,
            )
            .outerjoin(Stakeholder, Stakeholder.id == FeedbackItem.stakeholder_id)
            .outerjoin(Interaction, Interaction.id == FeedbackItem.interaction_id)
            .outerjoin(Response, Response.id == FeedbackItem.response_id)
            .outerjoin(Survey, Survey.id == Response.survey_id)
            .outerjoin(FeedbackAnalysis, FeedbackAnalysis.feedback_item_id == FeedbackItem.id)
            .where(FeedbackItem.id.in_(chunk))
        )
        for item_id, s_type, department, source_kind, survey_kind, safety_kinds in rows:
            found[item_id] = _provenance(
                stakeholder_type=s_type,
                department=department,
                source_kind=source_kind,
                survey_kind=survey_kind,
                safety_kinds=safety_kinds,
            )
    return found


def _safety_of_feedback(session: Session, column: Any, ids: Sequence[int]) -> set[int]:
    """Ids (of ``column``) whose feedback item the screening found reportable."""
    flagged: set[int] = set()
    for chunk in _chunks(ids):
        rows = session.execute(
            select(column, FeedbackAnalysis.safety_kinds)
            .join(FeedbackAnalysis, FeedbackAnalysis.feedback_item_id == FeedbackItem.id)
            .where(column.in_(chunk))
        )
        flagged.update(owner for owner, kinds in rows if kinds)
    return flagged


def interaction_provenance(session: Session, ids: Iterable[int | None]) -> dict[int, Provenance]:
    wanted = sorted({i for i in ids if i is not None})
    safety = _safety_of_feedback(session, FeedbackItem.interaction_id, wanted)
    found: dict[int, Provenance] = {}
    for chunk in _chunks(wanted):
        rows = session.execute(
            select(Interaction.id, Stakeholder.type, Interaction.department_code)
            .join(Stakeholder, Stakeholder.id == Interaction.stakeholder_id)
            .where(Interaction.id.in_(chunk))
        )
        for interaction_id, s_type, department in rows:
            found[interaction_id] = _provenance(
                stakeholder_type=s_type,
                department=department,
                safety_kinds=["flagged"] if interaction_id in safety else None,
            )
    return found


def response_provenance(
    session: Session, ids: Iterable[int | None]
) -> tuple[dict[int, Provenance], dict[tuple[int, int], Provenance]]:
    """(each response's, each of its answers') provenance: the respondent and the survey decide
    whether the words are a patient's; the screening of an answer's comment whether they report
    a safety event."""
    wanted = sorted({i for i in ids if i is not None})
    responses: dict[int, Provenance] = {}
    for chunk in _chunks(wanted):
        rows = session.execute(
            select(Response.id, Stakeholder.type, Survey.kind)
            .join(Survey, Survey.id == Response.survey_id)
            .outerjoin(Stakeholder, Stakeholder.id == Response.stakeholder_id)
            .where(Response.id.in_(chunk))
        )
        for response_id, s_type, survey_kind in rows:
            responses[response_id] = _provenance(stakeholder_type=s_type, survey_kind=survey_kind)
    # By (response, question): the answers of a response as the API names them.
    answers: dict[tuple[int, int], Provenance] = {}
    for chunk in _chunks(wanted):
        screened = session.execute(
            select(Answer.response_id, Answer.question_id, FeedbackAnalysis.safety_kinds)
            .join(FeedbackItem, FeedbackItem.answer_id == Answer.id)
            .join(FeedbackAnalysis, FeedbackAnalysis.feedback_item_id == FeedbackItem.id)
            .where(Answer.response_id.in_(chunk))
        )
        for owner, question_id, kinds in screened:
            if kinds:
                flagged = responses.get(owner, PLAIN) | Provenance(safety=True)
                answers[(owner, question_id)] = flagged
                # The response as a whole now carries a safety narrative in one of its answers.
                responses[owner] = flagged
    return responses, answers


def case_provenance(
    session: Session, cases: Sequence[Case], *, view: RecordView | None = None
) -> dict[int, Provenance]:
    items = feedback_provenance(session, [c.feedback_item_id for c in cases])
    wanted = (c.stakeholder_id for c in cases)
    if view is not None:
        view_types = view.stakeholder_types(wanted)  # the types the view already looked up
    else:
        view_types = {
            sid: s_type
            for chunk in _chunks(sorted({i for i in wanted if i}))
            for sid, s_type in session.execute(
                select(Stakeholder.id, Stakeholder.type).where(Stakeholder.id.in_(chunk))
            )
        }
    found: dict[int, Provenance] = {}
    for case in cases:
        provenance = _provenance(
            stakeholder_type=view_types.get(case.stakeholder_id or -1),
            department=case.department_code,
            source_kind="medical_inquiry" if case.case_type in MEDICAL_CASE_TYPES else None,
        ) | items.get(case.feedback_item_id or -1, PLAIN)
        if case.case_type == "complaint" and case.feedback_item_id is not None:
            provenance = provenance | Provenance(safety=True)  # a product complaint, for PV
        found[case.id] = provenance
    return found


# --- the shields, one per kind of record ------------------------------------------------------


def _get(record: object, name: str) -> Any:
    return getattr(record, name, None)


def _copy(record: RecordT, update: dict[str, Any]) -> RecordT:
    if not update:
        return record
    if isinstance(record, BaseModel):
        fields = type(record).model_fields
        return record.model_copy(update={k: v for k, v in update.items() if k in fields})
    if dataclasses.is_dataclass(record) and not isinstance(record, type):
        names = {f.name for f in dataclasses.fields(record)}
        return dataclasses.replace(record, **{k: v for k, v in update.items() if k in names})
    raise TypeError(f"cannot shield a {type(record).__name__}")


def _person_update(
    ref: PersonRef, *, id_field: str = "stakeholder_id", key_field: str = "stakeholder_key"
) -> dict[str, Any]:
    if not ref.hidden:
        return {}
    return {id_field: None, key_field: ref.key}


def shield_stakeholders(
    session: Session,
    principal: Principal,
    records: Sequence[RecordT],
    *,
    purpose: str,
    view: RecordView | None = None,
) -> list[RecordT]:
    """Stakeholder records (``id``, ``type``, personal fields, maybe ``affiliations``) as
    ``principal`` may see them; the reads of whole patient records are audited."""
    view = _view_for(session, principal, view)
    shown_patients: list[int] = []
    result = []
    for record in records:
        record_id = getattr(record, "id", None)
        s_type = getattr(record, "type", None)
        ref = view.person(record_id, s_type, getattr(record, "display_name", None))
        update: dict[str, Any] = {}
        if ref.hidden:
            update = {name: None for name in IDENTIFYING_FIELDS}
            update |= {"id": None, "key": ref.key, "display_name": ref.name, "merged_into": None}
        elif is_patient_identifiable(s_type):
            shown_patients.append(record_id)  # type: ignore[arg-type]
        affiliations = getattr(record, "affiliations", None)
        if affiliations:
            update["affiliations"] = _shield_affiliations(view, affiliations, shown_patients)
        result.append(_copy(record, update))
    view.audit("stakeholders", shown_patients, via=purpose)
    return result


def _shield_affiliations(
    view: RecordView, affiliations: Sequence[RecordT], shown_patients: list[int]
) -> list[RecordT]:
    types = view.stakeholder_types([getattr(a, "person_id", None) for a in affiliations])
    shielded = []
    for affiliation in affiliations:
        person_id = getattr(affiliation, "person_id", None)
        ref = view.person(person_id, types.get(person_id or -1), _get(affiliation, "person_name"))
        if ref.hidden:
            update = {"person_id": None, "person_key": ref.key, "person_name": ref.name}
            shielded.append(_copy(affiliation, update))
        else:
            if is_patient_identifiable(types.get(person_id or -1)) and person_id is not None:
                shown_patients.append(person_id)
            shielded.append(affiliation)
    return shielded


def _shield_texts(
    view: RecordView,
    records: Sequence[RecordT],
    provenances: dict[int, Provenance],
    *,
    text_fields: tuple[str, ...],
    entity_type: str,
    via: str,
    id_field: str = "id",
    extra: Any = None,
) -> list[RecordT]:
    """The common shield: people by key, words by provenance, protected reads audited."""
    view.stakeholder_types(getattr(r, "stakeholder_id", None) for r in records)
    shown: list[int | None] = []
    result = []
    for record in records:
        record_id = getattr(record, id_field)
        provenance = provenances.get(record_id, PLAIN)
        update = _person_update(view.ref(getattr(record, "stakeholder_id", None)))
        reason = withheld_reason(view.principal, provenance)
        if reason is not None:
            update |= {name: None for name in text_fields}
            update["text_withheld"] = reason
        elif provenance.kinds:
            shown.append(record_id)
        if extra is not None:
            update |= extra(record, provenance, reason)
        result.append(_copy(record, update))
    view.audit(entity_type, shown, via=via)
    return result


def shield_interactions(
    session: Session,
    principal: Principal,
    records: Sequence[RecordT],
    *,
    via: str = "interactions",
    view: RecordView | None = None,
) -> list[RecordT]:
    """Interactions without notes the role may not read (medical departments, patient support,
    safety events), and patients by key."""
    view = _view_for(session, principal, view)
    provenances = interaction_provenance(session, [_get(r, "id") for r in records])
    return _shield_texts(
        view,
        records,
        provenances,
        text_fields=("notes", "outcome"),
        entity_type="interactions",
        via=via,
    )


def shield_feedback(
    session: Session,
    principal: Principal,
    records: Sequence[RecordT],
    *,
    via: str,
    view: RecordView | None = None,
) -> list[RecordT]:
    """Feedback items: text, redacted text and the sentences of safety mentions only for roles
    that may read words of that provenance; kinds, themes and sentiment for every role."""

    def mentions(record: Any, _provenance: Provenance, reason: str | None) -> dict[str, Any]:
        if reason is None:
            if shows_identity(principal):
                return {}
            # Any writer may name someone (a nurse, a neighbour): the original words are for
            # roles that may see personal data; the rest read them redacted.
            return {
                "text": None,
                "text_withheld": "original text withheld: it may hold personal data; "
                "see redacted_text",
            }
        kept = [
            {k: v for k, v in m.items() if k not in ("sentence", "words")}
            for m in getattr(record, "safety_mentions", None) or []
        ]
        return {"safety_mentions": kept}

    view = _view_for(session, principal, view)
    provenances = feedback_provenance(session, [_get(r, "id") for r in records])
    return _shield_texts(
        view,
        records,
        provenances,
        text_fields=("text", "redacted_text"),
        entity_type="feedback_item",
        via=via,
        extra=mentions,
    )


def readable_feedback_ids(session: Session, principal: Principal, ids: Sequence[int]) -> list[int]:
    """Of ``ids`` (in their order), the feedback items whose words ``principal`` may read.

    A search over words keeps only these: a match in words the role may not read would tell it
    what they say, even with the words withheld on the page.
    """
    if may_read(principal, Provenance(patient=True, medical=True, safety=True)):
        return list(ids)
    provenances = feedback_provenance(session, ids)
    return [i for i in ids if may_read(principal, provenances.get(i, PLAIN))]


def shield_responses(
    session: Session,
    principal: Principal,
    records: Sequence[RecordT],
    *,
    via: str,
    view: RecordView | None = None,
) -> list[RecordT]:
    """Responses (and their ``answers``, when present): respondents by key, text answers only
    for roles that may read them."""
    view = _view_for(session, principal, view)
    responses, answers = response_provenance(session, [_get(r, "id") for r in records])

    def answer_texts(record: Any, provenance: Provenance, _reason: str | None) -> dict[str, Any]:
        listed = getattr(record, "answers", None)
        if not listed:
            return {}
        shielded = []
        for answer in listed:
            key = (getattr(record, "id", -1), getattr(answer, "question_id", -1))
            own = answers.get(key, provenance)
            if getattr(answer, "value_text", None) and not may_read(view.principal, own):
                answer = _copy(answer, {"value_text": None, "text_withheld": True})
            shielded.append(answer)
        return {"answers": shielded}

    # The response's own fields carry no words: only its answers are shielded, one by one.
    return _shield_texts(
        view,
        records,
        responses,
        text_fields=(),
        entity_type="responses",
        via=via,
        extra=answer_texts,
    )


def shield_export_rows(
    session: Session,
    principal: Principal,
    rows: Sequence[dict[str, Any]],
    *,
    text_columns: Sequence[str],
    via: str,
) -> list[dict[str, Any]]:
    """Rows of a survey export (``response_id``, ``stakeholder_id``, one column per question):
    respondents by ``stakeholder_key``, text answers blanked where the role may not read them."""
    view = RecordView(session, principal)
    responses, _answers = response_provenance(session, [row["response_id"] for row in rows])
    view.stakeholder_types(row.get("stakeholder_id") for row in rows)
    shown: list[int] = []
    result = []
    for row in rows:
        ref = view.ref(row.get("stakeholder_id"))
        provenance = responses.get(row["response_id"], PLAIN)
        shielded = dict(row)
        shielded["stakeholder_key"] = ref.key
        if ref.hidden:
            shielded["stakeholder_id"] = None
        if not may_read(principal, provenance):
            for column in text_columns:
                if isinstance(shielded.get(column), str):
                    shielded[column] = "(withheld)"
        elif provenance.kinds:
            shown.append(row["response_id"])
        result.append(shielded)
    view.audit("responses", shown, via=via)
    return result


def shield_cases(
    session: Session,
    principal: Principal,
    cases: Sequence[Case],
    records: Sequence[RecordT],
    *,
    view: RecordView | None = None,
) -> list[RecordT]:
    """Case records (built from ``cases``, in the same order): the person by key, the description
    and the words in its trail only for roles that may read them."""

    def trail(record: Any, _provenance: Provenance, reason: str | None) -> dict[str, Any]:
        events = getattr(record, "events", None)
        if reason is None or not events:
            return {}
        return {
            "events": [
                _copy(
                    event,
                    {
                        "details": {
                            k: ("(withheld)" if k in ("text", "note", "reason") else v)
                            for k, v in (event.details or {}).items()
                        }
                        or None
                    },
                )
                for event in events
            ]
        }

    view = _view_for(session, principal, view)
    return _shield_texts(
        view,
        records,
        case_provenance(session, cases, view=view),
        text_fields=("description",),
        entity_type="cases",
        via="cases",
        extra=trail,
    )


def shield_analytics_rows(
    session: Session,
    principal: Principal,
    rows: Sequence[RecordT],
    *,
    comment_field: str | None,
    via: str,
) -> list[RecordT]:
    """Rows of an analytics list (``stakeholder_id``, ``stakeholder_type``, ``name`` or
    ``stakeholder``, and maybe a comment with its ``comment_feedback_id``): people by key,
    comments by the provenance of the feedback item they came from."""
    view = RecordView(session, principal)
    comments = (
        feedback_provenance(session, [getattr(r, "comment_feedback_id", None) for r in rows])
        if comment_field
        else {}
    )
    shown_people: list[int | None] = []
    shown_comments: list[int | None] = []
    result = []
    for row in rows:
        s_type = getattr(row, "stakeholder_type", None)
        ref = view.person(getattr(row, "stakeholder_id", None), s_type)
        update: dict[str, Any] = {}
        if ref.hidden:
            update = {
                "stakeholder_id": None,
                "stakeholder_key": ref.key,
                "name": ref.name,
                "stakeholder": ref.name,
            }
        elif is_patient_identifiable(s_type):
            shown_people.append(ref.stakeholder_id)
        if comment_field and getattr(row, comment_field, None):
            feedback_id = getattr(row, "comment_feedback_id", None)
            provenance = comments.get(feedback_id or -1, PLAIN) | Provenance(
                patient=is_patient_identifiable(s_type)
            )
            reason = withheld_reason(principal, provenance)
            if reason is not None:
                update[comment_field] = f"({reason})"
            elif provenance.kinds:
                shown_comments.append(feedback_id)
        result.append(_copy(row, update))
    view.audit("stakeholders", shown_people, via=via)
    view.audit("feedback_item", shown_comments, via=via)
    return result
