"""Free text for the demo: survey comments, call notes, call-centre logs and medical inquiries.

All templates are written for CPXM. A text is assembled from a few fragments (tone, topic, maybe a
safety mention in one of the ConText situations, maybe personal data), which gives thousands of
distinct comments; each comes with labels so the manifest can say what the text truly contains.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

SYMPTOMS = {
    "en": ("headaches", "nausea", "a rash", "dizziness", "fatigue", "joint pain", "hair loss"),
    "de": ("Kopfschmerzen", "Übelkeit", "einen Ausschlag", "Schwindel", "Müdigkeit"),
    "fr": ("des maux de tête", "des nausées", "une éruption cutanée", "des vertiges"),
    "es": ("dolores de cabeza", "náuseas", "una erupción", "mareos", "cansancio"),
    "ja": ("頭痛", "吐き気", "発疹", "めまい"),
}
RELATIVES = {
    "en": ("My mother", "My husband", "My father", "My wife", "My daughter"),
    "de": ("Meine Mutter", "Mein Mann", "Mein Vater"),
    "fr": ("Ma mère", "Mon mari", "Mon père"),
    "es": ("Mi madre", "Mi marido", "Mi padre"),
    "ja": ("母", "夫"),
}

# Tone fragments by audience and sentiment. {product} is a product name as the writer spells it.
TONE: dict[str, dict[str, dict[str, tuple[str, ...]]]] = {
    "en": {
        "hcp": {
            "positive": (
                "The MSL was knowledgeable and respected my time.",
                "Great scientific support; the {product} data was presented fairly.",
                "Medical information answered within two days, with references. Excellent.",
                "Your patient support programme really helps my patients on {product}.",
                "Reps are well prepared and never pushy.",
                "The webinar on {product} dosing was concise and useful.",
            ),
            "neutral": (
                "Fine overall.",
                "Nothing special to report.",
                "OK, but the emails are too generic.",
                "Useful data, though the visits could be shorter.",
            ),
            "negative": (
                "Prior authorisation for {product} takes weeks and my patients give up.",
                "{product} was out of stock at the wholesaler twice this quarter.",
                "Your reps visit far too often; three times in one week is too much.",
                "Sales, the MSL and marketing all contacted me in the same week. Coordinate!",
                "My medical information request took almost a month to be answered.",
                "The HCP portal keeps logging me out and the sample order page is broken.",
                "Too many promotional emails, none of them relevant to my practice.",
            ),
        },
        "patient": {
            "positive": (
                "The nurse called me the day after I enrolled and explained everything.",
                "The injection training made me feel confident with {product}.",
                "Friendly helpline staff, always patient with my questions.",
                "The reminders help me remember my {product} doses.",
            ),
            "neutral": (
                "It's fine, I don't use the programme much.",
                "Some useful leaflets, the app is so-so.",
            ),
            "negative": (
                "It took two weeks before anyone called me after I signed up.",
                "The helpline is always busy and nobody calls back.",
                "The reminder texts arrive at 6 am, please change that.",
                "My pharmacy could not get {product} for ten days.",
                "The website would not let me log in to order my starter kit.",
            ),
        },
        "site": {
            "positive": (
                "Our CRA is excellent and responsive.",
                "Clear protocol, good training before the first patient.",
            ),
            "neutral": ("Average experience compared with other sponsors.",),
            "negative": (
                "Site payments are three months late again.",
                "The EDC system is slow and times out during data entry.",
                "Too many protocol amendments, each needing new consent forms.",
                "Monitoring visits are scheduled at very short notice.",
            ),
        },
        "employee": {
            "positive": ("Great team spirit.", "My manager supports me well."),
            "neutral": ("Some weeks are busy, most are fine.",),
            "negative": (
                "Too many systems to log into before I can see a customer's history.",
                "We need one view of what other departments did with a customer.",
                "Targets push us to visit doctors who told us they want fewer visits.",
            ),
        },
    },
    "de": {
        "hcp": {
            "positive": (
                "Sehr kompetenter MSL, der meine Zeit respektiert.",
                "Die medizinische Information hat schnell und mit Literatur geantwortet.",
                "Gute wissenschaftliche Unterstützung zu {product}.",
            ),
            "neutral": ("Insgesamt in Ordnung.", "Nichts Besonderes."),
            "negative": (
                "Ihr Außendienst kommt viel zu oft vorbei.",
                "{product} war beim Großhändler wieder nicht lieferbar.",
                "Meine Anfrage an die medizinische Information blieb drei Wochen liegen.",
                "Das Fachkreisportal funktioniert nicht, ständig Fehlermeldungen.",
            ),
        },
        "patient": {
            "positive": ("Die Schwester hat mich sofort angerufen und alles erklärt.",),
            "neutral": ("Ganz okay.",),
            "negative": (
                "Nach der Anmeldung hat sich zwei Wochen niemand gemeldet.",
                "Die Hotline ist dauernd besetzt.",
            ),
        },
    },
    "fr": {
        "hcp": {
            "positive": (
                "Le MSL est très compétent et disponible.",
                "Réponse rapide et documentée de l'information médicale.",
            ),
            "neutral": ("Correct dans l'ensemble.",),
            "negative": (
                "Les visites des délégués sont beaucoup trop fréquentes.",
                "Rupture de stock de {product} deux fois ce trimestre.",
                "Ma demande d'information médicale a attendu presque un mois.",
                "Le portail professionnel est inutilisable.",
            ),
        },
        "patient": {
            "positive": ("L'infirmière m'a appelé dès le lendemain de mon inscription.",),
            "neutral": ("Ça va, sans plus.",),
            "negative": (
                "Personne ne m'a contacté pendant deux semaines après l'inscription.",
                "Impossible de joindre la ligne d'assistance.",
            ),
        },
    },
    "es": {
        "hcp": {
            "positive": (
                "El MSL es muy profesional y respeta mi tiempo.",
                "Información médica respondió rápido y con bibliografía.",
            ),
            "neutral": ("Bien en general.",),
            "negative": (
                "Los delegados vienen demasiadas veces.",
                "No hay stock de {product} en el mayorista.",
                "Mi consulta a información médica tardó casi un mes.",
                "El portal para profesionales no funciona.",
            ),
        },
        "patient": {
            "positive": ("La enfermera me llamó al día siguiente y me lo explicó todo.",),
            "neutral": ("Está bien.",),
            "negative": (
                "Tardaron dos semanas en llamarme después de inscribirme.",
                "La línea de ayuda siempre está ocupada.",
            ),
        },
    },
    "ja": {
        "hcp": {
            "positive": ("MSLの説明はとても分かりやすかったです。",),
            "neutral": ("特にありません。",),
            "negative": ("問い合わせへの回答が遅すぎます。", "訪問の回数が多すぎます。"),
        },
        "patient": {
            "positive": ("看護師さんの対応がとても丁寧でした。",),
            "neutral": ("普通です。",),
            "negative": ("登録してから連絡が来るまで二週間かかりました。",),
        },
    },
}

# Safety mentions by ConText situation; {s} is a symptom, {r} a relative, {product} the product.
SAFETY: dict[str, dict[str, tuple[str, ...]]] = {
    "en": {
        "affirmed": (
            "Since starting {product} I get {s} almost every day.",
            "I've had {s} ever since the dose of {product} was increased.",
            "Two of my patients on {product} reported {s} after the second dose.",
            "One patient developed {s} three weeks into {product}.",
        ),
        "negated": (
            "No side effects at all with {product}, which is a relief.",
            "I have not had any {s} since starting {product}.",
            "None of my patients on {product} has reported {s} so far.",
        ),
        "family": (
            "{r} had {s} after starting {product}.",
            "{r} gets {s} on {product} and is worried.",
        ),
        "hypothetical": (
            "If I get {s} on {product}, who should I call?",
            "The nurse explained what to do in case of {s}.",
        ),
        "historical": (
            "I had {s} years ago with a different medicine, nothing like that now.",
            "Back in 2019 I had {s} on my previous treatment.",
        ),
    },
    "de": {
        "affirmed": ("Seit ich {product} nehme, habe ich {s}.",),
        "negated": ("Keine Nebenwirkungen mit {product}.",),
        "family": ("{r} hat seit {product} {s}.",),
        "hypothetical": ("Was mache ich, falls ich {s} bekomme?",),
        "historical": ("Früher hatte ich mit einem anderen Medikament {s}.",),
    },
    "fr": {
        "affirmed": ("Depuis que je prends {product}, j'ai {s}.",),
        "negated": ("Aucun effet secondaire avec {product}.",),
        "family": ("{r} a eu {s} après avoir commencé {product}.",),
        "hypothetical": ("Que faire si j'ai {s} ?",),
        "historical": ("J'avais eu {s} il y a des années avec un autre traitement.",),
    },
    "es": {
        "affirmed": ("Desde que tomo {product} tengo {s}.",),
        "negated": ("Ningún efecto secundario con {product}.",),
        "family": ("{r} tuvo {s} después de empezar {product}.",),
        "hypothetical": ("¿Qué hago si tengo {s}?",),
        "historical": ("Hace años tuve {s} con otro medicamento.",),
    },
    "ja": {
        "affirmed": ("{product}を使い始めてから{s}があります。",),
        "negated": ("{product}で副作用は全くありません。",),
        "family": ("{r}は{product}を始めてから{s}がありました。",),
        "hypothetical": ("もし{s}が出たらどうすればいいですか。",),
        "historical": ("以前、別の薬で{s}がありました。",),
    },
}
SAFETY_SITUATIONS = ("affirmed", "negated", "family", "hypothetical", "historical")
SAFETY_WEIGHTS = (0.4, 0.2, 0.15, 0.13, 0.12)

PII: dict[str, tuple[str, ...]] = {
    "en": ("Please call me back on {phone}.", "You can reach me at {email}.", "Ask for {name}."),
    "de": (
        "Bitte rufen Sie mich an: {phone}.",
        "Meine E-Mail: {email}.",
        "Fragen Sie nach {name}.",
    ),
    "fr": ("Rappelez-moi au {phone}.", "Mon e-mail : {email}.", "Demandez {name}."),
    "es": ("Llámenme al {phone}.", "Mi correo es {email}.", "Pregunten por {name}."),
    "ja": ("{phone}に電話してください。", "メール: {email}", "{name}までご連絡ください。"),
}

CALL_NOTES = (
    "Discussed {product} dosing; HCP asked for the latest efficacy data. Follow-up in 4 weeks.",
    "Presented the new {product} patient brochure. HCP prefers email over visits.",
    "HCP busy, short meeting. Interested in the next {product} webinar.",
    "HCP raised reimbursement delays for {product} at the hospital pharmacy.",
    "HCP mentioned a patient with {s} on {product}; told them PV will follow up.",
)
CALL_CENTRE_LOGS = (
    "Caller asked about a refill of {product}; referred to the pharmacy.",
    "Patient asked how to store {product} while travelling.",
    "Caller reports {s} since the last dose of {product}; AE intake started. Callback {phone}.",
    "Caregiver called for her father, who felt dizzy after taking {product}.",
    "Caller could not log in to the patient portal; password reset sent to {email}.",
    "Pharmacy reports a damaged {product} pack on delivery; product complaint logged.",
)
INQUIRIES = (
    "Is {product} compatible with warfarin?",
    "What is the stability of {product} outside the refrigerator?",
    "Is there data on {product} in patients with renal impairment?",
    "A patient on {product} developed {s}; is this known? Please reply to {email}.",
    "Can {product} be used during breastfeeding?",
    "What is the recommended action after a missed dose of {product}?",
    "Request for the full publication of the phase III study of {product}.",
)


@dataclass
class Text:
    text: str
    language: str
    sentiment: str | None = None
    safety: str | None = None  # the ConText situation of a safety mention
    pii: list[str] = field(default_factory=list)


class TextMaker:
    """Draws texts with one seeded generator, so the same seed writes the same words."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng

    def _pick(self, items: tuple[str, ...]) -> str:
        return items[int(self.rng.integers(0, len(items)))]

    def product_spelling(self, name: str, misspellings: tuple[str, ...]) -> str:
        if misspellings and self.rng.random() < 0.12:
            return self._pick(misspellings)
        return name if self.rng.random() > 0.05 else name.lower()

    def comment(
        self,
        *,
        language: str,
        audience: str,
        sentiment: str,
        product: str,
        safety_chance: float,
        pii_chance: float,
        contact: dict[str, str],
    ) -> Text:
        """A survey comment: a tone sentence, maybe a safety mention, maybe personal data."""
        if language not in TONE or audience not in TONE[language]:
            language = "en"  # people often write in English where we have no local wording
        tones = TONE[language][audience]
        parts = [self._pick(tones[sentiment]).format(product=product)]
        if self.rng.random() < 0.35 and sentiment != "neutral":
            second = self._pick(tones[sentiment]).format(product=product)
            if second != parts[0]:
                parts.append(second)
        result = Text("", language, sentiment)
        if audience in ("hcp", "patient") and self.rng.random() < safety_chance:
            situation = str(self.rng.choice(SAFETY_SITUATIONS, p=SAFETY_WEIGHTS))
            parts.append(self.safety_sentence(language, situation, product))
            result.safety = situation
        if self.rng.random() < pii_chance:
            sentence = (
                self._pick(PII[language])
                .replace("{phone}", contact["phone"])
                .replace("{email}", contact["email"])
                .replace("{name}", contact["name"])
            )
            parts.append(sentence)
            result.pii.append(self._pii_kind(sentence, contact))
        order = self.rng.permutation(len(parts)) if self.rng.random() < 0.3 else range(len(parts))
        result.text = " ".join(parts[int(i)] for i in order)
        return result

    @staticmethod
    def _pii_kind(sentence: str, contact: dict[str, str]) -> str:
        if contact["phone"] in sentence:
            return "phone"
        if contact["email"] in sentence:
            return "email"
        return "person"

    def safety_sentence(self, language: str, situation: str, product: str) -> str:
        templates = SAFETY.get(language, SAFETY["en"])[situation]
        symptom = self._pick(SYMPTOMS.get(language, SYMPTOMS["en"]))
        relative = self._pick(RELATIVES.get(language, RELATIVES["en"]))
        return self._pick(templates).format(s=symptom, r=relative, product=product)

    def operational(self, kind: str, product: str, contact: dict[str, str]) -> Text:
        """A call note, call-centre log or medical inquiry (written in English by the company)."""
        templates = {"call_note": CALL_NOTES, "call_centre_log": CALL_CENTRE_LOGS}.get(
            kind, INQUIRIES
        )
        template = self._pick(templates)
        symptom = self._pick(SYMPTOMS["en"])
        text = template.format(
            product=product, s=symptom, phone=contact["phone"], email=contact["email"]
        )
        safety = "family" if "father" in template else "affirmed" if "{s}" in template else None
        pii = [kind for kind in ("phone", "email") if "{" + kind + "}" in template]
        return Text(text, "en", None, safety, pii)
