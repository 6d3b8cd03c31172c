"""Safety detection: adverse events, product complaints and special situations, with context.

Each sentence is searched for the vocabulary in ``safety_terms.yaml`` (or
``CPXM_SAFETY_TERMS_FILE``). Every hit becomes a mention with its ConText situation (negated,
hypothetical, historical, other person, affirmed), the product named in the sentence or the text,
and whether it is *reportable*: something that happened to a real person. Nothing is dropped:
mentions that are not reportable are still returned, labelled, so a reader can see why.

Reportable, by kind:
- affirmed: always.
- other person (a relative, a patient of the writer): when the text links it to a treatment,
  otherwise it is family history ("my mother had breast cancer").
- historical: when it names one of our products in the sentence and not "a different medicine":
  a past reaction to our product is news to PV today.
- negated, hypothetical: never.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from cpxm.text.context import ContextResult, bounded_alternation, classify, reaffirms
from cpxm.text.learned import Heads, event_probabilities, event_threshold
from cpxm.text.products import ProductCatalogue, ProductMatch

DEFAULT_TERMS_FILE = Path(__file__).with_name("safety_terms.yaml")
SAFETY_KINDS = ("ae", "pc", "srs")
# Why a mention opens no case; shown with its sentence in PV's triage list.
NOT_REPORTABLE_REASONS = (
    "negated",
    "hypothetical",
    "other_person",
    "historical",
    "treated_condition",
    "low_confidence",
)
# A full stop between digits ("6.1", "2.5 mg") does not end a sentence.
_SENTENCE = re.compile(r"(?:[^.!?;。！？\n]|(?<=\d)\.(?=\d))+[.!?;。！？]*")
_TREATMENT = re.compile(
    r"(?<!\w)(?:medication|medicine|meds|drug|tablets?|pills?|capsules?|injections?|injecting|"
    r"injected|infusions?|jabs?|shots?|doses?|dosage|treatment|therapy|prescri\w+|taking|took|"
    r"started|starting|since (?:starting|taking|beginning)|after (?:taking|starting|the)|"
    r"on (?:it|the)|pens?|patches?|cream|inhaler|vaccine|vaccinated|medicines|medications|"
    r"med|refills?|generic|side[- ]?effects?|wean\w*|withdrawals?|this stuff|"
    r"\d+(?:\.\d+)? ?(?:mg|mcg|µg|ml|iu|units?)|"
    # Generic names by their international nonproprietary name stems (-pril, -sartan, ...).
    r"\w+(?:pril|sartan|olol|statin|prazole|azole|tidine|oxetine|xetine|triptan|gliptin|"
    r"glutide|formin|zepam|zolam|codone|morphine|cillin|mycin|cycline|floxacin|mab|tinib|"
    r"profen|coxib|olone|asone|afil|dronate|parin|lukast|tiapine|peridone|pramine|triptyline|"
    r"barbital|gabalin|pentin|amfetamine|phenidate|setron|semide|thiazide|dipine))(?!\w)",
    re.IGNORECASE,
)
_OTHER_MEDICINE = re.compile(
    r"(?:a|another|other|different|previous|old|former) (?:different )?"
    r"(?:medicine|medication|drug|treatment|product|brand|inhaler|cream|pill|tablet|injection)|"
    r"(?:an?|the|to|from|with|on) (?:antibiotics?|penicillin|chemo(?:therapy)?|vaccines?|"
    r"painkillers?|steroids?|statins?|aspirin|ibuprofen)",
    re.IGNORECASE,
)
_DIGITAL = re.compile(
    r"(?<!\w)(?:portal|website|site|app|apps|login|log ?in|page|link|system|phone|phones|"
    r"helpline|hotline|email|e-mail|printer|card|code|password|button|form|search|"
    r"programme|program|service|rep|reps|team|process|scheme|edc)(?!\w)",
    re.IGNORECASE,
)
# Sentences about getting better are not events, whatever body part they name.
_IMPROVEMENT = re.compile(
    r"(?<!\w)(?:better|great|good|fine|under control|improv\w*|back to normal|clear(?:ed)?|"
    r"gone away|all gone|completely gone|(?<!as )well|relief|is back|are back|normal again|"
    r"life back|"
    r"so far so good|no (?:problems|issues)|feel(?:ing)? (?:like )?(?:myself|new))(?!\w)",
    re.IGNORECASE,
)
_CJK = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
# The condition a medicine treats is not an event of it: "for my migraines", "relieves my
# anxiety", "diagnosed with depression", "the pain went from a 10 to a 3", "anxiety meds".
# Near the mention (a few words before or after), never where the clause says it got worse.
_TREATED_BEFORE = re.compile(
    r"(?<!\w)(?:for|treat(?:s|ed|ing|ment of)?|diagnosed with|suffer(?:s|ed|ing)? (?:from|with)|"
    r"due to|because of|struggl\w* with|battl\w*|fight\w*|dealing with|help(?:s|ed|ing)?"
    r"(?: with| me with| to (?:ease|reduce|control|relieve|manage))?|reliev\w*|relief (?:from|of)|"
    r"reduc\w*|reduction in|eliminat\w*|control\w*|manag\w*|cur(?:e|ed|es)|ease[sd]?|"
    r"stop(?:s|ped)? (?:my|the|his|her)|took away|takes away|get rid of|got rid of|prevent\w*|"
    r"no more|history of|prescribed (?:it |this |them )?for|decreas\w*|lessen\w*|"
    r"calm(?:s|ed)?(?: down)?|knock(?:s|ed)? out|i used to get)"
    r"(?:[\s,]+(?:my|the|his|her|their|our|a|an|of|severe|chronic|bad|terrible|horrible|"
    r"debilitating|constant|daily|mild|moderate|occasional|frequent|hormonal|tension|"
    r"cluster|nerve|back|neck|joint|menstrual|social|general(?:ized|ised)?|all|these|those|"
    r"and|from|with|me|down|up|symptoms?|\w+'s))*[\s,]+$",
    re.IGNORECASE,
)
_TREATED_AFTER = re.compile(
    r"^\s*(?:(?:symptoms?|attacks?|levels?|issues?|problems?|and \w+|/\w+)\s*)*"
    r"(?:(?:is|are|was|were|has|have|had|got|seems?)\s+)?(?:(?:completely|totally|almost|all|"
    r"nearly|much|so much|a lot|now|finally|really|significantly|greatly|definitely)\s+)*"
    r"(?:gone|went away|go away|disappeared|"
    r"(?:went|has gone|dropped|came) (?:right )?(?:down )?from|"
    r"(?:dropped|came down|went down|is down|was down) to|"
    r"vanished|subsided|subsiding|diminished|decreased|"
    r"reduced|improv\w*|eased|lifted|cleared|better|under control|manageable|tolerable|"
    r"controlled|relieved|relief|free|medication|medications|meds|medicine|pills?|tablets?|"
    r"treatment|sufferer|patients?|drug|sprays?|relievers?|killers?)(?!\w)",
    re.IGNORECASE,
)
# A sentence that tells the condition's story rather than the medicine's: how long it has
# lasted, or why the medicine was prescribed ("I have had migraines since I was 12", "for 10
# years", "so I was prescribed this", "diagnosed with").
_CONDITION_HISTORY = re.compile(
    r"(?<!\w)(?:for (?:the )?(?:past |last |over |almost |nearly |about )?(?:\d+|a few|few|many|"
    r"several|two|three|four|five|ten|fifteen|twenty) (?:\+ )?(?:years?|yrs?|decades?)|"
    r"since (?:i was (?:\d+|a (?:child|kid|teen\w*)|young|little)|childhood|birth|high school|"
    r"college|puberty)|all my life|my (?:whole|entire) life|"
    r"(?:was|were|got|been|am|is) (?:first )?diagnosed|diagnosis|"
    r"(?:so|and) (?:i was|i got|my doctor|the doctor|dr\.?|he|she) (?:\w+ )?prescribed|"
    r"prescribed (?:this|it|them|me)|"
    r"(?:started|began) (?:taking|using) (?:\w+ ){0,3}(?:when|because|after|for)|"
    # What the writer had before the medicine is the condition, not its event.
    r"before (?:taking|starting|using|trying|going on|i (?:started|began|took|tried)))(?!\w)",
    re.IGNORECASE,
)
_WORSENED = re.compile(
    r"(?<!\w)(?:worse|worsen\w*|increas\w*|more (?:\w+ )?than|caus\w+|gave me|giving me|"
    r"gives me|made me|makes me|side[- ]?effects?|started having|new|brought on|triggered|"
    r"came back|returned|since (?:starting|taking|i started)|never (?:had|got|experienced))(?!\w)",
    re.IGNORECASE,
)
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'"})
# A product named right after a time link ("since the Velcora", "after the Cardiaz was
# increased", "seit ich Cardiaz nehme", "depuis Glyventa", "desde que empecé con Imuvella"):
# what the sentence says happened, happened on the product.
_TIME_LINK_BEFORE = re.compile(
    r"(?<!\w)(?:ever since|since|after|following|depuis|seit|desde|nach|dopo)"
    r"(?:\s+[\w'’]+){0,4}\s*$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class SafetyMention:
    kind: str  # ae, pc, srs
    subtype: str  # adverse_event, quality_defect, packaging, counterfeit, pregnancy, ...
    term: str  # the words as written
    context: str  # affirmed, negated, hypothetical, historical, other_person
    reportable: bool
    sentence: str
    start: int  # offsets in the whole text
    end: int
    product_code: str | None = None
    product_written: str | None = None
    triggers: tuple[str, ...] = ()
    # Why a mention opens no case (one of ``NOT_REPORTABLE_REASONS``); None when it does.
    reason: str | None = None
    # The learned check's probability that the sentence reports an event (None: not checked).
    confidence: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "subtype": self.subtype,
            "term": self.term,
            "context": self.context,
            "reportable": self.reportable,
            "sentence": self.sentence,
            "start": self.start,
            "end": self.end,
            "product_code": self.product_code,
            "product_written": self.product_written,
            "reason": self.reason,
            "confidence": None if self.confidence is None else round(self.confidence, 3),
        }


@dataclass(frozen=True)
class SafetyResult:
    mentions: list[SafetyMention] = field(default_factory=list)
    products: list[ProductMatch] = field(default_factory=list)

    @property
    def reportable(self) -> list[SafetyMention]:
        return [mention for mention in self.mentions if mention.reportable]

    @property
    def kinds(self) -> list[str]:
        """Kinds with at least one reportable mention, in ``SAFETY_KINDS`` order."""
        present = {mention.kind for mention in self.reportable}
        return [kind for kind in SAFETY_KINDS if kind in present]

    @property
    def contexts(self) -> list[str]:
        """Every situation seen, reportable or not (``negated``, ``other_person``, ...)."""
        return sorted({mention.context for mention in self.mentions})


@dataclass(frozen=True)
class _Vocabulary:
    patterns: tuple[tuple[str, str, re.Pattern[str]], ...]  # (kind, subtype, pattern)
    figurative: re.Pattern[str]
    pc_net: re.Pattern[str]
    ae_net: re.Pattern[str]
    body_net: re.Pattern[str]


def terms_path() -> Path:
    configured = os.environ.get("CPXM_SAFETY_TERMS_FILE", "").strip()
    return Path(configured) if configured else DEFAULT_TERMS_FILE


def _alternation(expressions: list[str]) -> re.Pattern[str]:
    return bounded_alternation(expressions)


@cache
def load_vocabulary(path: Path | None = None) -> _Vocabulary:
    source = path or terms_path()
    data: dict[str, Any] = yaml.safe_load(source.read_text(encoding="utf-8"))
    patterns: list[tuple[str, str, re.Pattern[str]]] = [
        ("ae", "adverse_event", _alternation([str(term) for term in data["ae"]]))
    ]
    for kind in ("pc", "srs"):
        for subtype, terms in data[kind].items():
            patterns.append((kind, str(subtype), _alternation([str(term) for term in terms])))
    figurative = _alternation([str(term) for term in data.get("figurative") or ["$^"]])
    objects, defects = str(data["pc_objects"]), str(data["pc_defects"])
    # One clause, object and defect within six words of each other, in either order.
    near = r"(?:[\s,]+[\w'-]+){0,6}?[\s,]+"
    pc_net = re.compile(
        rf"(?<!\w)(?:(?:{objects}){near}(?:{defects})|(?:{defects}){near}(?:{objects}))(?!\w)",
        re.IGNORECASE,
    )
    ae_net = _alternation([str(term) for term in data.get("ae_backoff") or ["$^"]])
    body_net = re.compile(rf"(?<!\w)(?:{data['body_parts']})(?!\w)", re.IGNORECASE)
    return _Vocabulary(tuple(patterns), figurative, pc_net, ae_net, body_net)


def detect_safety(
    text: str,
    catalogue: ProductCatalogue | None = None,
    *,
    confirm: bool = True,
    about_treatment: bool = False,
) -> SafetyResult:
    """Every safety mention in ``text`` with its context; see the module docstring.

    ``confirm`` runs the learned event check on the weakest evidence (``possible_event``);
    off, the vocabulary alone decides (how the check itself is trained).
    ``about_treatment``: the source says the text is about a medicine (a review on a drug's
    page, a row of a file with a product column), so the writer need not name one for "did
    not help" or "my hair is falling out" to be about it.
    """
    vocabulary = load_vocabulary()
    original = text
    # One apostrophe for the patterns ("didn’t" is "didn't"); same length, so offsets hold.
    text = text.translate(_APOSTROPHES)
    products = catalogue.find(text) if catalogue is not None else []
    has_treatment = about_treatment or bool(products) or bool(_TREATMENT.search(text))
    mentions: list[SafetyMention] = []
    sentence_matches = list(_SENTENCE.finditer(text))
    for position, sentence_match in enumerate(sentence_matches):
        sentence = sentence_match.group()
        offset = sentence_match.start()
        following_sentence = (
            sentence_matches[position + 1].group() if position + 1 < len(sentence_matches) else ""
        )
        masked = vocabulary.figurative.sub(lambda match: " " * len(match.group()), sentence)
        cjk = bool(_CJK.search(sentence))
        sentence_products = [
            product for product in products if offset <= product.start < offset + len(sentence)
        ]
        candidates = sentence_products or products
        product = candidates[0] if candidates else None
        covered: list[tuple[int, int]] = []
        taken: dict[str, list[tuple[int, int]]] = {}
        for kind, subtype, pattern in vocabulary.patterns:
            for match in pattern.finditer(masked):
                start, end = match.span()
                if any(
                    start < taken_end and end > taken_start
                    for taken_start, taken_end in taken.setdefault(kind, [])
                ):
                    # One span, one mention of a kind: "allergic reaction" is not two events,
                    # but "made my depression worse" is an event and a lack of efficacy.
                    continue
                if kind == "srs" and subtype in ("paediatric", "elderly") and not has_treatment:
                    continue  # a child or an elderly person is a special situation only if exposed
                if subtype == "lack_of_efficacy" and _DIGITAL.search(sentence):
                    continue  # "the portal does not work" is not about a medicine
                covered.append((start, end))
                taken[kind].append((start, end))
                context = _classify(sentence, start, end, following_sentence, cjk=cjk)
                reportable = _reportable(
                    context.context, kind, sentence, sentence_products, has_treatment
                )
                reason = None if reportable else _reason(context.context)
                if reportable and subtype == "lack_of_efficacy" and not has_treatment:
                    # "Didn't work." in a text that names no medicine: PV reads it.
                    reportable, reason = False, "low_confidence"
                if reportable and kind == "ae" and _treated_condition(sentence, start, end):
                    reportable, reason = False, "treated_condition"
                mentions.append(
                    SafetyMention(
                        kind=kind,
                        subtype=subtype,
                        term=original[offset + start : offset + end],
                        context=context.context,
                        reportable=reportable,
                        sentence=original[offset : offset + len(sentence)].strip(),
                        start=offset + start,
                        end=offset + end,
                        product_code=product.code if product else None,
                        product_written=product.written if product else None,
                        triggers=context.triggers,
                        reason=reason,
                    )
                )
        mentions.extend(
            _safety_net(
                vocabulary,
                sentence,
                masked,
                offset,
                covered,
                product,
                sentence_products,
                has_treatment,
                {mention.kind for mention in mentions if mention.start >= offset},
                original=original,
                following_sentence=following_sentence,
                cjk=cjk,
            )
        )
    result = SafetyResult(mentions, products)
    return confirm_weak_events([result])[0] if confirm else result


def detect_safety_many(
    texts: Sequence[str],
    catalogue: ProductCatalogue | None = None,
    *,
    about_treatment: Sequence[bool] | None = None,
) -> list[SafetyResult]:
    """``detect_safety`` for many texts, asking the learned check about all of them at once;
    ``about_treatment`` goes with ``texts`` (see ``detect_safety``)."""
    about = about_treatment if about_treatment is not None else [False] * len(texts)
    return confirm_weak_events(
        [
            detect_safety(text, catalogue, confirm=False, about_treatment=known)
            for text, known in zip(texts, about, strict=True)
        ]
    )


def _weak_sentences(mentions: list[SafetyMention]) -> set[str]:
    """Sentences whose only reportable event evidence is a safety-net hit."""
    reportable = [m for m in mentions if m.reportable and m.kind == "ae"]
    strong = {m.sentence for m in reportable if m.subtype != "possible_event"}
    return {m.sentence for m in reportable if m.subtype == "possible_event"} - strong


def confirm_weak_events(
    results: list[SafetyResult], trained: Heads | None = None
) -> list[SafetyResult]:
    """Ask the learned check about sentences whose only event evidence is a safety-net hit.

    A sentence with a vocabulary event word is left to the vocabulary; one with only a body
    part or an experience phrase opens a case when the check finds an event in it, and goes
    to PV's triage list as ``low_confidence`` when it does not. The sentences of all
    ``results`` go to the model in one call; ``trained`` replaces the shipped heads.
    """
    weak_by_result = [_weak_sentences(result.mentions) for result in results]
    weak = sorted(set().union(*weak_by_result))
    if not weak:
        return results
    probabilities = event_probabilities(weak, trained)
    if probabilities is None:
        return results  # no model installed: recall first, every hit stays
    threshold = event_threshold(trained)
    confidence = dict(zip(weak, probabilities, strict=True))
    confirmed_results: list[SafetyResult] = []
    for result, weak_here in zip(results, weak_by_result, strict=True):
        if not weak_here:
            confirmed_results.append(result)
            continue
        confirmed: list[SafetyMention] = []
        for mention in result.mentions:
            score = confidence.get(mention.sentence) if mention.sentence in weak_here else None
            if score is None or mention.kind != "ae" or not mention.reportable:
                confirmed.append(mention)
            elif score >= threshold:
                confirmed.append(replace(mention, confidence=score))
            else:
                confirmed.append(
                    replace(mention, reportable=False, reason="low_confidence", confidence=score)
                )
        confirmed_results.append(SafetyResult(confirmed, result.products))
    return confirmed_results


def _safety_net(
    vocabulary: _Vocabulary,
    sentence: str,
    masked: str,
    offset: int,
    covered: list[tuple[int, int]],
    product: ProductMatch | None,
    sentence_products: list[ProductMatch],
    has_treatment: bool,
    kinds_found: set[str],
    *,
    original: str,
    following_sentence: str,
    cjk: bool,
) -> list[SafetyMention]:
    """Possible events and complaints the vocabulary has no word for (recall comes first).

    Only for kinds the sentence's vocabulary did not already find, so a case lists the
    reporter's event words rather than the phrases around them.
    """
    found: list[SafetyMention] = []
    nets: list[tuple[str, str, re.Pattern[str]]] = []
    if "pc" not in kinds_found:
        nets.append(("pc", "possible_complaint", vocabulary.pc_net))
    if "ae" not in kinds_found and has_treatment and not _IMPROVEMENT.search(sentence):
        nets.append(("ae", "possible_event", vocabulary.ae_net))
        # A body part alone is the weakest evidence: only where nothing else was found.
        nets.append(("ae", "possible_event", vocabulary.body_net))
    if "ae" not in kinds_found and not _IMPROVEMENT.search(sentence):
        nets.append(
            ("ae", "possible_event", _time_linked_products(sentence, offset, sentence_products))
        )
    for kind, subtype, pattern in nets:
        for match in pattern.finditer(masked):
            start, end = match.span()
            if any(start < taken_end and end > taken_start for taken_start, taken_end in covered):
                continue
            covered.append((start, end))
            context = _classify(sentence, start, end, following_sentence, cjk=cjk)
            reportable = _reportable(
                context.context, kind, sentence, sentence_products, has_treatment
            )
            found.append(
                SafetyMention(
                    kind=kind,
                    subtype=subtype,
                    term=original[offset + start : offset + end],
                    context=context.context,
                    reportable=reportable,
                    sentence=original[offset : offset + len(sentence)].strip(),
                    start=offset + start,
                    end=offset + end,
                    product_code=product.code if product else None,
                    product_written=product.written if product else None,
                    triggers=context.triggers,
                    reason=None if reportable else _reason(context.context),
                )
            )
            break
    return found


def _time_linked_products(
    sentence: str, offset: int, sentence_products: list[ProductMatch]
) -> re.Pattern[str]:
    """A pattern for the time links that lead to a product in this sentence (or none)."""
    links = []
    for product in sentence_products:
        link = _TIME_LINK_BEFORE.search(sentence[: product.start - offset])
        if link:
            links.append(re.escape(link.group().strip()))
    return re.compile("|".join(links) or "$^", re.IGNORECASE)


def _classify(
    sentence: str, start: int, end: int, following_sentence: str, *, cjk: bool
) -> ContextResult:
    """ConText for one mention, then per clause: a later clause or the next sentence that says
    the writer has it after all ("..., and now I have it", "Mine is falling out.") affirms it."""
    context = classify(sentence, start, end, cjk=cjk)
    if context.context in ("negated", "hypothetical") and reaffirms(
        sentence[end:] + " " + following_sentence
    ):
        return ContextResult("affirmed", (*context.triggers, "reaffirmed"))
    return context


def _treated_condition(sentence: str, start: int, end: int) -> bool:
    """Whether the mention at ``sentence[start:end]`` names the condition being treated."""
    before = sentence[max(0, start - 60) : start]
    after = sentence[end : end + 60]
    clause = sentence[max(0, start - 80) : end + 60]
    if _WORSENED.search(clause):
        return False
    return bool(
        _TREATED_BEFORE.search(before)
        or _TREATED_AFTER.search(after)
        or _CONDITION_HISTORY.search(sentence)
    )


def _reason(context: str) -> str:
    """Why a mention in this context opens no case: its context, or low confidence."""
    return context if context in NOT_REPORTABLE_REASONS else "low_confidence"


def _reportable(
    context: str,
    kind: str,
    sentence: str,
    sentence_products: list[ProductMatch],
    has_treatment: bool,
) -> bool:
    if context == "affirmed":
        return True
    if context == "other_person":
        # A product complaint or special situation about another person's medicine counts
        # as it is; an event needs a link to a treatment, else it is family history.
        return kind != "ae" or has_treatment
    if context == "historical":
        return bool(sentence_products) and not _OTHER_MEDICINE.search(sentence)
    return False
