"""Stakeholder pages: global search and the 360 profile of one golden record, per role.

Every record on these pages passes through the shield of its kind (``cpxm.access``) before it
is rendered, exactly as the JSON API's records do: the page shows what the API would answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import literal, select, union_all

from cpxm.access import (
    CommercialReader,
    Domain,
    Principal,
    RecordView,
    hidden_case_types,
    hidden_person_types,
    person_lookup,
    shield_cases,
    shield_feedback,
    shield_interactions,
    shield_responses,
    shield_stakeholders,
)
from cpxm.access.confidential import hidden_survey_ids
from cpxm.cases.schemas import CaseOut
from cpxm.deps import DbSession
from cpxm.errors import DomainError, NotFoundError
from cpxm.feedback.schemas import feedback_out
from cpxm.interactions.schemas import interaction_out
from cpxm.stakeholders import profile360, service
from cpxm.stakeholders.models import STAKEHOLDER_TYPES
from cpxm.stakeholders.schemas import (
    stakeholder_detail_out,
    stakeholder_hit_out,
    stakeholder_out,
)
from cpxm.surveys.schemas import response_detail_out
from cpxm.text.themes import theme_labels
from cpxm.timeutil import utc_now
from cpxm.web.lists import (
    CSV_LIMIT,
    Column,
    ListParams,
    csv_of,
    list_params,
    page_context,
    query_string,
)
from cpxm.web.templating import templates
from cpxm.workspace.models import Channel, Country, Department

router = APIRouter(prefix="/stakeholders", include_in_schema=False)
TIMELINE_PAGE_SIZE = 50


# (label, field of the shielded record, attribute name in identity provenance)
IDENTITY_FIELDS = (
    ("Type", "type", "type"),
    ("First name", "first_name", "first_name"),
    ("Last name", "last_name", "last_name"),
    ("Specialty", "specialty", "specialty"),
    ("Professional id", "professional_id", "professional_id"),
    ("Email", "email", "email"),
    ("Phone", "phone", "phone"),
    ("Address", "address_line", "address_line"),
    ("Postal code", "postal_code", "postal_code"),
    ("City", "city", "city"),
    ("Country", "country", "country_code"),
    ("Language", "language", "language"),
    ("Birth date", "birth_date", "birth_date"),
)


class BadFilter(DomainError):
    status_code = 400


@dataclass(frozen=True)
class SearchFilters:
    """The search's query string, checked: the page and its CSV read the same one."""

    type: str | None
    country: str | None
    listing: ListParams

    def query(self) -> str:
        return query_string(
            {
                "q": self.listing.q,
                "type": self.type,
                "country": self.country,
                "sort": self.listing.sort,
            }
        )


def search_filters(
    listing: Annotated[ListParams, list_params(service.STAKEHOLDER_SORTS, default="name")],
    type: Annotated[str, Query(max_length=40)] = "",
    country: Annotated[str, Query(max_length=2, pattern=r"^([A-Za-z]{2})?$")] = "",
) -> SearchFilters:
    if type and type not in STAKEHOLDER_TYPES:
        raise BadFilter(f"unknown stakeholder type '{type}'; choose one of the list")
    return SearchFilters(type=type or None, country=country.upper() or None, listing=listing)


Filters = Annotated[SearchFilters, Depends(search_filters)]


def _found(
    session: DbSession, principal: Principal, filters: SearchFilters, *, limit: int, offset: int
) -> tuple[list[Any], int]:
    """Golden records matching the search (every one without ``q``), shielded for the role."""
    q = filters.listing.q
    if q:
        hits, total = service.search_stakeholders(
            session,
            q=q,
            q_skips_types=hidden_person_types(principal),
            type=filters.type,
            country=filters.country,
            sort=filters.listing.sort,
            limit=limit,
            offset=offset,
        )
        items: list[Any] = [
            stakeholder_hit_out(
                h.stakeholder, institution=h.institution, matched_merged_id=h.matched_merged_id
            )
            for h in hits
        ]
    else:
        found, total = service.list_stakeholders(
            session,
            type=filters.type,
            country=filters.country,
            sort=filters.listing.sort,
            limit=limit,
            offset=offset,
        )
        places = service.institutions(session, person_ids=[s.id for s in found])
        items = [
            stakeholder_hit_out(s, institution=places.get(s.id), matched_merged_id=None)
            for s in found
        ]
    return shield_stakeholders(session, principal, items, purpose="search page"), total


@router.get("", response_class=HTMLResponse)
def search_page(
    request: Request, session: DbSession, principal: CommercialReader, filters: Filters
) -> Response:
    """Search by name, email, professional id, institution or id; without ``q``, every golden
    record by name."""
    listing = filters.listing
    items, total = _found(
        session, principal, filters, limit=listing.page_size, offset=listing.offset
    )
    return templates.TemplateResponse(
        request,
        "stakeholders/search.html",
        {
            **page_context(
                listing, total=total, query=filters.query(), sorts=service.STAKEHOLDER_SORTS
            ),
            "items": items,
            "filters": filters,
            "types": STAKEHOLDER_TYPES,
            "countries": session.execute(
                select(Country.code, Country.name).order_by(Country.name)
            ).all(),
            "active_nav": "stakeholders",
        },
    )


@router.get("/export.csv")
def search_csv(session: DbSession, principal: CommercialReader, filters: Filters) -> Response:
    """Exactly the golden records the search shows with these filters (every page), as the role
    may see them."""
    items, _total = _found(session, principal, filters, limit=CSV_LIMIT, offset=0)
    columns: list[Column[Any]] = [
        Column("stakeholder_id", lambda s: s.id),
        Column("key", lambda s: s.key),
        Column("name", lambda s: s.display_name),
        Column("type", lambda s: s.type),
        Column("specialty", lambda s: s.specialty),
        Column("institution", lambda s: s.institution),
        Column("city", lambda s: s.city),
        Column("country", lambda s: s.country),
        Column("professional_id", lambda s: s.professional_id),
        Column("email", lambda s: s.email),
    ]
    return csv_of("stakeholders.csv", columns, items)


def _day(text: str, name: str) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.strptime(text, "%Y-%m-%d")
    except ValueError:
        raise BadFilter(f"'{name}' is '{text}', expected a date as YYYY-MM-DD") from None


@router.get("/{stakeholder_id}", response_class=HTMLResponse)
def profile_page(
    request: Request,
    session: DbSession,
    principal: CommercialReader,
    stakeholder_id: int,
    channel: str = "",
    department: str = "",
    occurred_from: Annotated[str, Query(alias="from")] = "",
    occurred_to: Annotated[str, Query(alias="to")] = "",
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Response:
    """The 360 of one golden record; a merged record's id leads to the golden record."""
    if person_lookup(session, principal, stakeholder_id) is None:
        # As for an unknown id: the answer must not confirm that the id is a patient's.
        raise NotFoundError("stakeholder", stakeholder_id)
    golden = service.golden_ids(session, stakeholder_ids=[stakeholder_id]).get(stakeholder_id)
    if golden is not None:
        return RedirectResponse(f"/stakeholders/{golden}", status_code=303)
    profile = service.get_stakeholder_profile(session, stakeholder_id=stakeholder_id)
    person = profile.stakeholder
    # One view for every section's shield: each person's type is looked up once per page.
    view = RecordView(session, principal)
    detail = shield_stakeholders(
        session,
        principal,
        [
            stakeholder_detail_out(
                person,
                therapeutic_interests=profile.therapeutic_interests,
                channel_preferences=profile.channel_preferences,
                affiliations=profile.affiliations,
            )
        ],
        purpose="stakeholder profile",
        view=view,
    )[0]
    last_day = _day(occurred_to, "to")
    timeline_filter = profile360.TimelineFilter(
        channel=channel or None,
        department=department or None,
        occurred_from=_day(occurred_from, "from"),
        occurred_to=last_day + timedelta(days=1) if last_day else None,
    )
    interactions, timeline_total = profile360.timeline(
        session,
        stakeholder_id=person.id,
        timeline_filter=timeline_filter,
        limit=TIMELINE_PAGE_SIZE,
        offset=offset,
    )
    # A confidential survey (the employee pulse) is no part of anyone's profile.
    confidential = hidden_survey_ids(session, principal)
    responses, answers, survey_names = profile360.responses(
        session, stakeholder_id=person.id, hidden_survey_ids=confidential
    )
    feedback_rows, feedback_total = profile360.feedback(
        session, stakeholder_id=person.id, hidden_survey_ids=confidential
    )
    cases = profile360.cases(
        session, stakeholder_id=person.id, hidden_types=hidden_case_types(principal)
    )
    safety_cases = None
    if principal.can_see(Domain.SAFETY):
        safety_cases = profile360.safety_cases(session, stakeholder_id=person.id)
        view.audit("safety_cases", [c.id for c in safety_cases], via="stakeholder profile")
    sources = profile360.source_records(session, stakeholder_id=person.id)
    given_by = {
        attribute: (record.source_system, rule, reason)
        for record in sources
        for attribute, rule, reason in record.gave
    }
    identity = [
        (label, getattr(detail, field_name), given_by.get(attribute))
        for label, field_name, attribute in IDENTITY_FIELDS
        if getattr(detail, field_name) not in (None, "")
    ]
    preferred = detail.channel_preferences[0].channel if detail.channel_preferences else "email"
    prompts = {q.id: q.prompt for rows in answers.values() for _a, q in rows}
    labels: dict[str, dict[str, str]] = {"channel": {}, "department": {}}
    for kind, code, name in session.execute(
        union_all(
            select(literal("channel"), Channel.code, Channel.name),
            select(literal("department"), Department.code, Department.name),
        )
    ):
        labels[kind][code] = name
    channels, departments = labels["channel"], labels["department"]
    return templates.TemplateResponse(
        request,
        "stakeholders/profile.html",
        {
            "person": detail,
            "golden": stakeholder_out(person),
            "sources": sources,
            "identity": identity,
            "consents": profile360.consents(session, stakeholder_id=person.id),
            "pressure": profile360.contact_pressure(
                session, stakeholder=person, channel=preferred, now=utc_now().replace(tzinfo=None)
            ),
            "journeys": profile360.journeys(session, stakeholder_id=person.id),
            "timeline": shield_interactions(
                session,
                principal,
                [interaction_out(i) for i in interactions],
                via="stakeholder profile",
                view=view,
            ),
            "timeline_total": timeline_total,
            "facets": profile360.timeline_facets(session, stakeholder_id=person.id),
            "filters": {
                "channel": channel,
                "department": department,
                "from": occurred_from,
                "to": occurred_to,
            },
            "offset": offset,
            "page_size": TIMELINE_PAGE_SIZE,
            "invitations": profile360.invitations(
                session, stakeholder_id=person.id, hidden_survey_ids=confidential
            ),
            "responses": shield_responses(
                session,
                principal,
                [response_detail_out(r, answers=answers.get(r.id, [])) for r in responses],
                via="stakeholder profile",
                view=view,
            ),
            "survey_names": survey_names,
            "prompts": prompts,
            "feedback": shield_feedback(
                session,
                principal,
                [feedback_out(item, analysis) for item, analysis in feedback_rows],
                via="stakeholder profile",
                view=view,
            ),
            "feedback_total": feedback_total,
            "themes": theme_labels(),
            "cases": shield_cases(
                session, principal, cases, [CaseOut.model_validate(c) for c in cases], view=view
            ),
            "safety_cases": safety_cases,
            "channels": channels,
            "departments": departments,
            "active_nav": "stakeholders",
        },
    )
