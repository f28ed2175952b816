"""Sentence structures and their realisation in English, German and French.

A `Sentence` names its words (lexicon keys) and roles; `realize` turns it into three
grammatical sentences: German articles and adjective endings by gender, number and case
(accusative objects, dative after `mit`/`neben`/`zu` and for `helfen`/`folgen` and recipients,
accusative after `für` and for direction), preposition contractions (im, ins, am, zum), verb
second after a fronted time; French gender and number agreement, adjective position, elision
(l', j', d') and the contractions au/aux/du/des.

    >>> s = Sentence(subject=NP("man"), verb="see", obj=NP("dog"), time="in the morning",
    ...              time_first=True)
    >>> realize(s).de
    'Am Morgen sieht der Mann den Hund.'
    >>> realize(s).fr
    "Le matin, l'homme voit le chien."
"""

from __future__ import annotations

from dataclasses import dataclass

from spire.errors import DataError
from spire.mini.lexicon import (
    ADJECTIVES,
    BE,
    EN_BE,
    GIVE_VERBS,
    GO,
    INTRANSITIVE,
    NOUNS,
    NUMBERS,
    PLACES,
    PRONOUNS,
    TIMES,
    TRANSITIVE,
    Verb,
)

_DE_DEF = {
    "nom": {"m": "der", "f": "die", "n": "das", "pl": "die"},
    "acc": {"m": "den", "f": "die", "n": "das", "pl": "die"},
    "dat": {"m": "dem", "f": "der", "n": "dem", "pl": "den"},
}
_DE_INDEF = {
    "nom": {"m": "ein", "f": "eine", "n": "ein"},
    "acc": {"m": "einen", "f": "eine", "n": "ein"},
    "dat": {"m": "einem", "f": "einer", "n": "einem"},
}
# Adjective endings: weak after der/die/das, mixed after ein, strong with no article (plural).
_DE_WEAK = {
    "nom": {"m": "e", "f": "e", "n": "e", "pl": "en"},
    "acc": {"m": "en", "f": "e", "n": "e", "pl": "en"},
    "dat": {"m": "en", "f": "en", "n": "en", "pl": "en"},
}
_DE_MIXED = {
    "nom": {"m": "er", "f": "e", "n": "es"},
    "acc": {"m": "en", "f": "e", "n": "es"},
    "dat": {"m": "en", "f": "en", "n": "en"},
}
_DE_STRONG_PL = {"nom": "e", "acc": "e", "dat": "en"}
_DE_CONTRACTIONS = {("in", "dem"): "im", ("in", "das"): "ins", ("an", "dem"): "am",
                    ("an", "das"): "ans", ("zu", "dem"): "zum", ("zu", "der"): "zur"}
_DE_PREP_CASE = {"mit": "dat", "neben": "dat", "zu": "dat", "für": "acc"}
_FR_CONTRACTIONS = {("à", "le"): "au", ("à", "les"): "aux", ("de", "le"): "du", ("de", "les"): "des"}
_FR_VOWELS = "aeiouyàâäéèêëîïôöûüœæ"
# Numerals that start with a vowel sound but take no elision: "de onze", "de huit".
_FR_NO_ELISION = ("onze", "huit")


@dataclass(frozen=True)
class NP:
    """A noun phrase: noun (or pronoun) key, determiner ("the", "a" or a number 2–12), optional
    adjective key. A number makes it plural; "the" with `plural=True` is "the dogs".

    >>> NP("dog", det=3, adjective="black").is_plural
    True
    """

    noun: str
    det: str | int = "the"
    adjective: str | None = None
    plural: bool = False

    def __post_init__(self) -> None:
        if self.det == "a" and self.plural:
            raise DataError(f"a noun phrase with det='a' must be singular, but {self.noun!r} is plural; "
                            "fix: use det='the' or a number")
        if self.noun not in NOUNS and self.noun not in PRONOUNS:
            raise DataError(f"noun must be a lexicon noun or pronoun, but is {self.noun!r}; "
                            "fix: pick one from spire.mini.lexicon.NOUNS")

    @property
    def is_plural(self) -> bool:
        return self.plural or isinstance(self.det, int)

    @property
    def is_pronoun(self) -> bool:
        return self.noun in PRONOUNS


@dataclass(frozen=True)
class Sentence:
    """One clause. `verb` is a key of TRANSITIVE, INTRANSITIVE or GIVE_VERBS, or "go", "be",
    "there is". Optional roles: `obj`, `recipient` (to …), `companion` (with …), `next_to`,
    `beneficiary` (for …), `place` (+ `place_dir` for going there), `predicate` (adjective key,
    with "be"), `time` (+ `time_first`)."""

    subject: NP | None
    verb: str
    obj: NP | None = None
    recipient: NP | None = None
    companion: NP | None = None
    next_to: NP | None = None
    beneficiary: NP | None = None
    place: str | None = None
    place_dir: bool = False
    predicate: str | None = None
    time: str | None = None
    time_first: bool = False


@dataclass(frozen=True)
class Translation:
    """The three realisations of one `Sentence`."""

    en: str
    de: str
    fr: str


def _person(np: NP | None) -> str:
    if np is None:
        return "3sg"
    if np.is_pronoun:
        return PRONOUNS[np.noun].person
    return "3pl" if np.is_plural else "3sg"


def _verb(sentence: Sentence) -> Verb:
    for table in (TRANSITIVE, INTRANSITIVE, GIVE_VERBS):
        if sentence.verb in table and (sentence.obj is not None) == bool(table[sentence.verb].objects):
            return table[sentence.verb]
    if sentence.verb == "go":
        return GO
    if sentence.verb == "be":
        return BE
    raise DataError(f"verb must be a lexicon verb used with fitting roles, but is {sentence.verb!r}; "
                    "fix: pick one from spire.mini.lexicon")


# ---------------------------------------------------------------- English


def en_np(np: NP) -> str:
    """English noun phrase: "a red car", "three black dogs", "the children"."""
    if np.is_pronoun:
        return PRONOUNS[np.noun].en
    noun = NOUNS[np.noun]
    words = [ADJECTIVES[np.adjective].en] if np.adjective else []
    words.append(noun.en_pl if np.is_plural else noun.en)
    if np.det == "a":
        det = "an" if words[0][0] in "aeiou" else "a"
    elif np.det == "the":
        det = "the"
    else:
        det = NUMBERS[np.det][0]
    return " ".join([det, *words])


def _en(s: Sentence) -> str:
    person = _person(s.subject)
    if s.verb == "there is":
        words = ["there", "is" if not s.obj.is_plural else "are", en_np(s.obj)]
    elif s.verb == "be":
        words = [en_np(s.subject), EN_BE[person]]
        if s.predicate:
            words.append(ADJECTIVES[s.predicate].en)
    else:
        words = [en_np(s.subject), _verb(s).en_form(person)]
        if s.obj:
            words.append(en_np(s.obj))
    if s.recipient:
        words += ["to", en_np(s.recipient)]
    if s.companion:
        words += ["with", en_np(s.companion)]
    if s.next_to:
        words += ["next to", en_np(s.next_to)]
    if s.beneficiary:
        words += ["for", en_np(s.beneficiary)]
    if s.place:
        place = PLACES[s.place]
        words += ["to" if s.place_dir else place.en_loc, "the", place.en]
    if s.time and not s.time_first:
        words.append(TIMES[s.time].en)
    text = " ".join(words)
    if s.time and s.time_first:
        text = f"{TIMES[s.time].en}, {text}"
    return _sentence_case(text)


# ---------------------------------------------------------------- German


def de_np(np: NP, case: str) -> str:
    """German noun phrase in `case` ("nom", "acc", "dat"): "den großen Hund", "drei kleinen Katzen"."""
    if np.is_pronoun:
        if case != "nom":
            raise DataError(f"a pronoun must be a subject, but is used in the {case}; fix: use a noun")
        return PRONOUNS[np.noun].de
    noun = NOUNS[np.noun]
    gender = "pl" if np.is_plural else noun.de_gender
    if np.is_plural:
        form = noun.de_dat_pl if case == "dat" else noun.de_pl
    else:
        form = noun.de if case == "nom" or noun.de_oblique is None else noun.de_oblique
    words: list[str] = []
    if np.det == "the":
        words.append(_DE_DEF[case][gender])
        ending = _DE_WEAK[case][gender]
    elif np.det == "a":
        words.append(_DE_INDEF[case][gender])
        ending = _DE_MIXED[case][gender]
    else:
        words.append(NUMBERS[np.det][1])
        ending = _DE_STRONG_PL[case]
    if np.adjective:
        words.append(ADJECTIVES[np.adjective].de + ending)
    words.append(form)
    return " ".join(words)


def de_pp(preposition: str, np: NP | None = None, *, place: str | None = None, case: str | None = None) -> str:
    """German prepositional phrase with contraction: ("in", place garden, dat) -> "im Garten"."""
    if place is not None:
        p = PLACES[place]
        phrase = f"{_DE_DEF[case][p.de_gender]} {p.de}"
    else:
        phrase = de_np(np, case or _DE_PREP_CASE[preposition])
    article, _, rest = phrase.partition(" ")
    contracted = _DE_CONTRACTIONS.get((preposition, article))
    return f"{contracted} {rest}" if contracted else f"{preposition} {phrase}"


def _de(s: Sentence) -> str:
    person = _person(s.subject)
    if s.verb == "there is":
        subject, verb, middle = "es", "gibt", [de_np(s.obj, "acc")]
    else:
        v = _verb(s)
        subject, verb, middle = de_np(s.subject, "nom"), v.de_form(person), []
        if s.recipient:
            middle.append(de_np(s.recipient, "dat"))
        if s.obj:
            middle.append(de_np(s.obj, v.de_case))
        if s.predicate:
            middle.append(ADJECTIVES[s.predicate].de)
    if s.companion:
        middle.append(de_pp("mit", s.companion))
    if s.next_to:
        middle.append(de_pp("neben", s.next_to))
    if s.beneficiary:
        middle.append(de_pp("für", s.beneficiary))
    if s.place:
        p = PLACES[s.place]
        if s.place_dir:
            middle.append(de_pp(p.de_dir, place=s.place, case="dat" if p.de_dir == "zu" else "acc"))
        else:
            middle.append(de_pp(p.de_loc, place=s.place, case="dat"))
    time = TIMES[s.time].de if s.time else None
    if time and s.time_first:
        words = [time, verb, subject, *middle]  # verb second
    else:
        # Time comes right after the verb, before objects and places (temporal before local).
        words = [subject, verb, *([time] if time else []), *middle]
    return _sentence_case(" ".join(words))


# ---------------------------------------------------------------- French


def _fr_vowel_initial(word: str, h_aspire: bool = False) -> bool:
    if word.startswith(_FR_NO_ELISION):
        return False
    first = word[0].lower()
    return first in _FR_VOWELS or (first == "h" and not h_aspire)


def fr_np(np: NP) -> str:
    """French noun phrase: "la voiture rouge", "l'oiseau", "le vieil arbre", "trois grands chiens"."""
    if np.is_pronoun:
        return PRONOUNS[np.noun].fr
    noun = NOUNS[np.noun]
    gender = noun.fr_gender
    form = noun.fr_pl if np.is_plural else noun.fr
    before: list[str] = []
    after: list[str] = []
    if np.adjective:
        adjective = ADJECTIVES[np.adjective]
        adj_form = adjective.fr_form(gender, np.is_plural)
        if adjective.fr_before:
            if (not np.is_plural and gender == "m" and adjective.fr_m_vowel
                    and _fr_vowel_initial(form, noun.fr_h_aspire)):
                adj_form = adjective.fr_m_vowel
            before.append(adj_form)
        else:
            after.append(adj_form)
    head = " ".join([*before, form, *after])
    # Elision looks at the word right after the article: a prenominal adjective or the noun.
    next_vowel = _fr_vowel_initial(before[0]) if before else _fr_vowel_initial(form, noun.fr_h_aspire)
    if np.det == "the":
        if np.is_plural:
            return f"les {head}"
        if next_vowel:
            return f"l'{head}"
        return f"{'la' if gender == 'f' else 'le'} {head}"
    if np.det == "a":
        return f"{'une' if gender == 'f' else 'un'} {head}"
    return f"{NUMBERS[np.det][2]} {head}"


def fr_pp(preposition: str, phrase: str) -> str:
    """French preposition + phrase with contraction and elision: ("à", "le chien") -> "au chien"."""
    article, _, rest = phrase.partition(" ")
    contracted = _FR_CONTRACTIONS.get((preposition, article))
    if contracted:
        return f"{contracted} {rest}"
    if preposition == "de" and _fr_vowel_initial(phrase) and not phrase.startswith(("l'", "le ", "la ")):
        return f"d'{phrase}"
    return f"{preposition} {phrase}"


def _fr_place(place: str) -> str:
    p = PLACES[place]
    if _fr_vowel_initial(p.fr):
        return f"l'{p.fr}"
    return f"{'la' if p.fr_gender == 'f' else 'le'} {p.fr}"


def _fr(s: Sentence) -> str:
    person = _person(s.subject)
    if s.verb == "there is":
        words = ["il y a", fr_np(s.obj)]
    else:
        v = _verb(s)
        subject, verb = fr_np(s.subject), v.fr_form(person)
        if subject == "je" and _fr_vowel_initial(verb):
            words = [f"j'{verb}"]
        else:
            words = [subject, verb]
        if s.obj:
            words.append(fr_np(s.obj))
        if s.predicate:
            gender = NOUNS[s.subject.noun].fr_gender
            words.append(ADJECTIVES[s.predicate].fr_form(gender, s.subject.is_plural))
    if s.recipient:
        words.append(fr_pp("à", fr_np(s.recipient)))
    if s.companion:
        words.append(fr_pp("avec", fr_np(s.companion)))
    if s.next_to:
        words.append("à côté " + fr_pp("de", fr_np(s.next_to)))
    if s.beneficiary:
        words.append(fr_pp("pour", fr_np(s.beneficiary)))
    if s.place:
        p = PLACES[s.place]
        words.append(fr_pp(p.fr_dir if s.place_dir else p.fr_loc, _fr_place(s.place)))
    if s.time and not s.time_first:
        words.append(TIMES[s.time].fr)
    text = " ".join(words)
    if s.time and s.time_first:
        text = f"{TIMES[s.time].fr}, {text}"
    return _sentence_case(text)


def _sentence_case(text: str) -> str:
    return text[0].upper() + text[1:] + "."


def realize(sentence: Sentence) -> Translation:
    """English, German and French text of `sentence`.

    >>> realize(Sentence(subject=NP("I"), verb="give", obj=NP("apple", det="a"), recipient=NP("horse"))).fr
    'Je donne une pomme au cheval.'
    """
    return Translation(en=_en(sentence), de=_de(sentence), fr=_fr(sentence))
