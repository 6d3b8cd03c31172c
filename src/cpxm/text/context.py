"""Context of a safety mention, after the ConText algorithm (Harkema et al., 2009).

A mention found in a sentence is *negated* ("no side effects"), *hypothetical* ("if I get
nausea"), *historical* ("years ago I had hives") or about *another person* ("my mother had a
rash") when a trigger of that kind reaches it: forward triggers reach the words after them,
backward ones the words before, both within the same clause (a terminator such as "but" or
"apart from" ends the reach) and within a number of words. Pseudo-triggers ("not sure if",
"not only") are removed first so they never trigger. Written for CPXM from the published
description of the algorithm; the trigger lists are our own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

CONTEXTS = ("affirmed", "negated", "hypothetical", "historical", "other_person")
# When several triggers reach one mention, the first of these wins: "if my mother had no rash"
# is negated, "if my mother gets a rash" hypothetical.
PRECEDENCE = ("negated", "hypothetical", "historical", "other_person")


@dataclass(frozen=True)
class _Trigger:
    context: str
    pattern: re.Pattern[str]
    direction: str  # forward, backward, both
    window: int  # words reached; 0 = the whole clause


def _compile(expression: str) -> re.Pattern[str]:
    return bounded_alternation(expression.split("|"))


_CJK_CHAR = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


def bounded_alternation(alternatives: list[str]) -> re.Pattern[str]:
    """Alternatives matched as whole words; Japanese and Chinese ones anywhere (no spaces).

    Splitting on "|" is safe for our lists: a group inside one alternative is re-joined below.
    """
    whole: list[str] = []
    for piece in alternatives:
        # Re-join pieces split inside a group: "(?:a|b)" must stay one alternative.
        if whole and whole[-1].count("(") > whole[-1].count(")"):
            whole[-1] += "|" + piece
        else:
            whole.append(piece)
    latin = [piece for piece in whole if not _CJK_CHAR.search(piece)]
    cjk = [piece for piece in whole if _CJK_CHAR.search(piece)]
    parts = []
    if latin:
        parts.append(r"(?<!\w)(?:" + "|".join(latin) + r")(?!\w)")
    if cjk:
        parts.append("(?:" + "|".join(cjk) + ")")
    return re.compile("|".join(parts) or "$^", re.IGNORECASE)


_RELATIVES = (
    r"mother|mom|mum|mummy|father|dad|daddy|grandad|granddad|gran|grandparents?|parents?|husband|wife|partner|spouse|son|daughter|child|"
    r"children|kid|kids|brother|sister|grandmother|grandma|granny|nan|grandfather|grandpa|"
    r"grandson|granddaughter|aunt|uncle|cousin|niece|nephew|friend|neighbou?r|colleague|"
    r"boyfriend|girlfriend|fianc[ée]e?|baby|toddler|stepson|stepdaughter|in-laws?|"
    r"mother-in-law|father-in-law|flatmate|roommate|relative"
)
_TRIGGERS: tuple[_Trigger, ...] = (
    # negated
    _Trigger(
        "negated",
        _compile(
            r"no|not|never|without|nor|neither|none of|free of|free from|denies|denied|deny|"
            r"absence of|zero|not a single|not any|nothing like|neither|"
            r"(?:didn't|did not|don't|do not|doesn't|does not|haven't|have not|hasn't|has not|"
            r"hadn't|had not|won't|wasn't|weren't|isn't|aren't) ?(?:\w+ )?(?:any|had|have|get|got|"
            r"experience|experienced|notice|noticed|see|seen|cause|caused|report|reported|suffer|"
            r"suffered|develop|developed)?|"
            r"keine?n?|keinerlei|nicht|nie|aucune?|pas d[e']|pas|sans|jamais|"
            r"ningun[oa]?|ningún|sin|nunca"
        ),
        "forward",
        5,
    ),
    # A negated subject ("none of my patients on X has reported") spans a longer phrase.
    _Trigger(
        "negated",
        _compile(r"none of|nobody|no one|not one of|neither of|none"),
        "forward",
        9,
    ),
    _Trigger(
        "negated",
        _compile(
            r"(?:is|are|was|were|has been|have been) (?:not|never) (?:an? )?(?:issue|problem)|"
            r"(?:none|not at all|never happened|no problem|not an issue)|"
            r"(?:has|have|had|did) not (?:come|came) back|(?:hasn't|haven't|didn't) come back|"
            r"never came back|(?:did not|didn't) (?:return|recur)|"
            r"(?:は|が)?(?:全く)?ありません|ない"
        ),
        "backward",
        5,
    ),
    # hypothetical
    _Trigger(
        "hypothetical",
        _compile(
            r"if|in case(?: of)?|in the event (?:of|that)|should (?:i|we|he|she|they|you)|"
            r"what (?:should|do|to do|happens|would happen)|whether|might|could (?:cause|lead|"
            r"give)|may (?:cause|get|lead|give)|can (?:\w+ )?cause|does (?:\w+ )?cause|risk of|"
            r"chance of|worried (?:about|that)|afraid (?:of|that)|scared (?:of|that)|"
            r"concerned (?:about|that)|fear(?:s|ful)? (?:of|that)?|watch (?:out )?for|"
            r"look out for|warn(?:ed|s|ing)? (?:me |us |patients )?(?:about|of|that)|"
            r"explained what to do|possible|potential|(?:told|asked|advised) to report|report any|"
            r"(?:rate|rates|incidence|frequency|data|information|literature|studies|evidence|"
            r"statistics|figures) (?:of|on|about|for)|"
            r"(?:leaflet|label|insert|smpc) (?:lists|mentions|says|warns)|would|"
            r"falls|wenn|si|en cas d[e']|en caso de|もし|場合|たら|"
            r"(?:start|starting|starts|begin|beginning) (?:it |on it |\w+ )?(?:next|tomorrow|soon|"
            r"in \w+ (?:days|weeks))|(?:haven't|hasn't|have not|has not|not) (?:yet )?started|"
            r"about to start|going to start|will start|before (?:i|we) start"
        ),
        "forward",
        0,
    ),
    # historical
    _Trigger(
        "historical",
        _compile(
            r"(?:(?:\w+|a few|several|many) )?(?:years|decades) ago|years back|long ago|ages ago|"
            r"back in (?:19|20)\d\d|in (?:19|20)\d\d|as a (?:child|kid|teenager|teen)|"
            r"when i was (?:young|younger|little|a child|a kid|a teenager|\d+)|used to|"
            r"previously|in the past|history of|past history|before (?:i|she|he) (?:started|began)|"
            r"before starting|(?:my|her|his) (?:previous|old|last|former|earlier) (?:treatment|"
            r"medication|medicine|drug|therapy)|(?:a|another|other|different|previous) "
            r"(?:different )?(?:medicine|medication|drug|treatment|product|brand|inhaler|cream|"
            r"pill|tablet|injection)|"
            r"früher|autrefois|il y a des années|hace años|以前|昔"
        ),
        "both",
        0,
    ),
    # other person
    _Trigger(
        "other_person",
        _compile(
            rf"(?:my|our|her|his|their|the caller's|caller's) (?:\w+ )?(?:{_RELATIVES})|"
            r"(?:a|one|two|three|four|several|many|some|most|few|all) (?:of )?(?:my |our )?"
            r"(?:patients?|residents?|clients?)|my patients?|the patient|a patient|"
            r"patients (?:on|taking|who)|(?:she|he|they) (?:has|had|have|gets|got|developed|"
            r"felt|feels|was|is|started|became|reports|reported)|for (?:her|his) (?:\w+ )?"
            rf"(?:{_RELATIVES})|caregiver|"
            r"meine? (?:mutter|vater|mann|frau|tochter|sohn|schwester|bruder)|"
            r"(?:ma|mon) (?:mère|père|mari|femme|fille|fils|sœur|frère)|"
            r"mi (?:madre|padre|marido|esposa|hija|hijo|hermana|hermano)|母|父|夫|妻|息子|娘"
        ),
        "forward",
        10,
    ),
)
_PSEUDO = _compile(
    r"not sure(?: if| whether)?|not certain|no idea (?:if|whether)|can't tell (?:if|whether)|"
    r"not only|not just|no doubt|no longer sure|if anything|even if|no matter|not to mention|"
    r"whether or not|not until|nothing but|"
    # Figures of speech that open with a trigger word but assert what follows.
    r"if you ask me|if i'?m honest|if i am honest|if i'?m being honest|if truth be told|"
    r"to be honest|if you want my opinion|as if|if that makes sense|"
    # A negation that accepts an effect the writer has: "I don't mind the dry mouth".
    r"(?:don't|do not|didn't|did not) (?:really )?(?:care about|mind)|"
    r"(?:am|i'm|was|wasn't|am not|was not|not) (?:really |too )?bothered (?:by|about)|"
    r"(?:can|could) (?:live|deal|cope) with|"
    # "I had never had a migraine until I started it": a new event, not a negated one.
    r"(?:never|not once) (?:had|got|experienced|suffered)(?= (?:[\w']+ ){0,6}(?:before|until) "
    r"(?:taking|starting|using|i (?:started|took|began|was put on)|this|these|it)(?!\w))"
)
_TERMINATOR = re.compile(
    r"(?<!\w)(?:but|however|although|though|except|apart from|other than|besides|yet|aside from|"
    r"only|now|these days|currently|this time|whereas|while|aber|mais|pero|sondern)(?!\w)|"
    r",\s*(?:and )?(?:i|we|she|he|they|now)\b|\band (?:i|now)\b",
    re.IGNORECASE,
)
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class ContextResult:
    context: str
    triggers: tuple[str, ...]  # every context that reached the mention


# "Asks whether the tremor a customer developed is known": an indirect question about an event
# the sentence reports as having happened is not a hypothetical event.
_INDIRECT_QUESTION = re.compile(
    r"(?<!\w)(?:asks?|asked|asking|wants? to know|wanted to know|wondering|wonders|enquir\w+|"
    r"inquir\w+|queries|queried|checking) (?:whether|if)(?!\w)",
    re.IGNORECASE,
)
_REPORTED_EVENT = re.compile(
    r"(?<!\w)(?:developed|experienced|suffered|presented with|came out in|broke out in|"
    r"has been having|have been having|started having|was admitted|was hospitali[sz]ed)(?!\w)",
    re.IGNORECASE,
)


def classify(sentence: str, start: int, end: int, *, cjk: bool = False) -> ContextResult:
    """The context of the mention at ``sentence[start:end]``."""
    masked = _PSEUDO.sub(lambda match: " " * len(match.group()), sentence)
    if _REPORTED_EVENT.search(sentence):
        masked = _INDIRECT_QUESTION.sub(lambda match: " " * len(match.group()), masked)
    reached: list[str] = []
    for trigger in _TRIGGERS:
        if trigger.context in reached:
            continue
        for match in trigger.pattern.finditer(masked):
            if match.start() < end and match.end() > start:
                continue  # the trigger is the mention itself ("no appetite", "hypos")
            if _reaches(trigger, masked, match, start, end, cjk=cjk):
                reached.append(trigger.context)
                break
    if _is_question(sentence) and "hypothetical" not in reached and not _reports_exposure(sentence):
        reached.append("hypothetical")
    for context in PRECEDENCE:
        if context in reached:
            return ContextResult(context, tuple(reached))
    return ContextResult("affirmed", ())


def _reaches(
    trigger: _Trigger, text: str, match: re.Match[str], start: int, end: int, *, cjk: bool
) -> bool:
    if cjk:
        return True  # no spaces to count words by; a Japanese sentence is short
    if trigger.direction in ("forward", "both") and match.end() <= start:
        between = text[match.end() : start]
        if not _TERMINATOR.search(between) and _within(between, trigger.window):
            return True
    if trigger.direction in ("backward", "both") and match.start() >= end:
        between = text[end : match.start()]
        if not _TERMINATOR.search(between) and _within(between, trigger.window):
            return True
    return False


def _within(between: str, window: int) -> bool:
    return window == 0 or len(_WORD.findall(between)) <= window


_QUESTION_START = re.compile(
    r"^\W*(?:can|could|does|do|is|are|will|would|should|what|how|which|when|may|has|have|"
    r"anyone(?! else)|has anyone|did anyone|does anyone)\b",
    re.IGNORECASE,
)
_EXPOSURE = re.compile(
    r"\b(?:i|i've|i have|i had|she|he|they|my \w+) (?:got|had|have had|developed|started|"
    r"been having|noticed|experienced)\b|\bsince (?:starting|taking|i started)\b|\bafter "
    r"(?:taking|starting|the)\b|\bdeveloped\b",
    re.IGNORECASE,
)


def _is_question(sentence: str) -> bool:
    stripped = sentence.strip()
    return stripped.endswith(("?", "？")) and bool(_QUESTION_START.search(stripped))


def _reports_exposure(sentence: str) -> bool:
    return bool(_EXPOSURE.search(sentence))


# A later clause or the next sentence that says the writer has the event after all: "nobody
# told me it could cause nausea, and now I have it every morning", "can it cause hair loss?
# Mine is falling out.", "does anyone else get headaches? I do." Only a pronoun or "mine"
# pointing back counts, so "I have a question" does not.
_REAFFIRMATION = re.compile(
    r"(?<!\w)(?:(?:i|i've|i'd|she|he|they|we|my \w+) (?:(?:have|has|had|get|gets|got|"
    r"am getting|'m getting|is getting|been having|have been having|keep getting|now have|"
    r"have got|'ve got|'ve had|have had|developed|started getting)\s+)+(?:it|them|this|that|"
    r"one|some|those|these)(?!\w)(?! (?:checked|looked at|tested|filled|renewed|prescribed|in|at|"
    r"on|here|there|with me|at home|ready)\b)|(?:but|and|yet) (?:it|they|that|he|she) (?:did|does|"
    r"do|has|have)\s*(?:[,.!;]|$)|"
    r"(?:mine|my own) (?:is|are|was|were|has|have|had|keeps?|kept|started|did|does|came|went)"
    r"(?!\w)|(?:it|this|that)(?:'s| is| has| was)? (?:happening|happened|happens) to "
    r"(?:me|her|him|us|them)(?!\w)|(?<!\w)(?:i|she|he) (?:do|did|does)\s*[.!]|"
    r"(?<!\w)(?:same here|me too|so do i|so did i)(?!\w))",
    re.IGNORECASE,
)


def reaffirms(following: str) -> bool:
    """Whether ``following`` (a later clause or the next sentence) reports the event as had."""
    return bool(_REAFFIRMATION.search(following))
