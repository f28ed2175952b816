"""Random sentence structures for the synthetic corpus, and the word combinations they contain.

`sample_sentence` draws one `Sentence` from a `random.Random`, respecting which nouns each verb
and adjective may go with; `combinations` lists its (adjective, noun) and (verb, object) pairs,
which the corpus holds out of training to build a test set of novel combinations.

    >>> import random
    >>> from spire.mini.grammar import realize
    >>> sentence = sample_sentence(random.Random(0))
    >>> 3 <= len(realize(sentence).en.split()) <= 15
    True
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from spire.mini.grammar import NP, Sentence, realize
from spire.mini.lexicon import (
    ADJECTIVES,
    GIVE_VERBS,
    INTRANSITIVE,
    NOUNS,
    NUMBERS,
    PLACES,
    PRONOUNS,
    TIMES,
    TRANSITIVE,
    Verb,
)

Combination = tuple[str, str, str]  # ("adj", adjective, noun) or ("verb", verb, noun)
MIN_WORDS, MAX_WORDS = 3, 15

_TEMPLATES = (
    ("transitive", 30), ("intransitive", 14), ("companion", 8), ("next_to", 8), ("go", 8),
    ("give", 10), ("buy_for", 5), ("predicate", 7), ("be_at", 5), ("there_is", 5),
)


def _nouns_of(kinds: Sequence[str], only: Sequence[str] = ()) -> list[str]:
    return [key for key, noun in NOUNS.items() if noun.kind in kinds and (not only or key in only)]


def _object_nouns(verb: Verb) -> list[str]:
    return _nouns_of(verb.objects, verb.object_nouns)


def _np(rng: random.Random, noun: str, *, det: str | None = None, adjective_p: float = 0.4,
        plural_ok: bool = True) -> NP:
    kind = NOUNS[noun].kind
    adjective = None
    if rng.random() < adjective_p:
        adjective = rng.choice([key for key, adj in ADJECTIVES.items() if kind in adj.kinds])
    choice = det or rng.choice(["the", "the", "a", "the-pl", "number"] if plural_ok else ["the", "a"])
    if choice == "number":
        return NP(noun, det=rng.choice(sorted(NUMBERS)), adjective=adjective)
    if choice == "the-pl":
        return NP(noun, det="the", adjective=adjective, plural=True)
    return NP(noun, det=choice, adjective=adjective)


def _subject(rng: random.Random, kinds: Sequence[str], pronoun_p: float = 0.2) -> NP:
    if "person" in kinds and rng.random() < pronoun_p:
        return NP(rng.choice(sorted(PRONOUNS)))
    return _np(rng, rng.choice(_nouns_of(kinds)))


def _time(rng: random.Random, p: float = 0.5, front_only: bool = False) -> tuple[str | None, bool]:
    if rng.random() >= p:
        return None, False
    return rng.choice(sorted(TIMES)), front_only or rng.random() < 0.5


def _draw(rng: random.Random) -> Sentence:
    template = rng.choices([name for name, _ in _TEMPLATES], weights=[w for _, w in _TEMPLATES])[0]
    time, time_first = _time(rng)
    place = rng.choice(sorted(PLACES))
    if template == "transitive":
        verb = TRANSITIVE[rng.choice(sorted(TRANSITIVE))]
        obj = _np(rng, rng.choice(_object_nouns(verb)))
        return Sentence(_subject(rng, verb.subjects), verb.en, obj=obj,
                        place=place if rng.random() < 0.4 else None, time=time, time_first=time_first)
    if template == "intransitive":
        verb = INTRANSITIVE[rng.choice(sorted(INTRANSITIVE))]
        return Sentence(_subject(rng, verb.subjects), verb.en, place=place, time=time, time_first=time_first)
    if template == "companion":
        verb = INTRANSITIVE[rng.choice(["play", "wait", "sleep", "work"])]
        companion = _np(rng, rng.choice(_nouns_of(("person", "animal"))))
        return Sentence(_subject(rng, verb.subjects), verb.en, companion=companion,
                        place=place if rng.random() < 0.5 else None, time=time, time_first=time_first)
    if template == "next_to":
        verb = INTRANSITIVE[rng.choice(["sleep", "wait", "play"])]
        return Sentence(_subject(rng, verb.subjects), verb.en, next_to=_np(rng, rng.choice(_nouns_of(("object",)))),
                        time=time, time_first=time_first)
    if template == "go":
        return Sentence(_subject(rng, ("person", "animal")), "go", place=place, place_dir=True,
                        time=time, time_first=time_first)
    if template == "give":
        verb = GIVE_VERBS[rng.choice(sorted(GIVE_VERBS))]
        recipients = ("person", "animal") if verb.en == "give" else ("person",)
        return Sentence(_subject(rng, ("person",)), verb.en, obj=_np(rng, rng.choice(_object_nouns(verb))),
                        recipient=_np(rng, rng.choice(_nouns_of(recipients))), time=time, time_first=time_first)
    if template == "buy_for":
        verb = TRANSITIVE["buy"]
        return Sentence(_subject(rng, ("person",)), "buy", obj=_np(rng, rng.choice(_nouns_of(("object",)))),
                        beneficiary=_np(rng, rng.choice(_nouns_of(("person", "animal")))),
                        time=time, time_first=time_first)
    if template == "predicate":
        noun = rng.choice(_nouns_of(("person", "animal", "object")))
        adjective = rng.choice([key for key, adj in ADJECTIVES.items() if NOUNS[noun].kind in adj.kinds])
        return Sentence(_np(rng, noun, adjective_p=0.0), "be", predicate=adjective)
    if template == "be_at":
        return Sentence(_subject(rng, ("person", "animal", "object")), "be", place=place,
                        time=time, time_first=time_first)
    # there is: an indefinite or counted noun phrase; the time, if any, goes first (V2 "gibt es").
    time, time_first = _time(rng, front_only=True)
    obj = _np(rng, rng.choice(_nouns_of(("person", "animal", "object"))), det=rng.choice(["a", "number"]))
    return Sentence(None, "there is", obj=obj, place=place, time=time, time_first=time_first)


def sample_sentence(rng: random.Random) -> Sentence:
    """Draw one sentence structure whose English has 3–15 words.

    >>> import random
    >>> sample_sentence(random.Random(1)) == sample_sentence(random.Random(1))
    True
    """
    while True:
        sentence = _draw(rng)
        if MIN_WORDS <= len(realize(sentence).en.split()) <= MAX_WORDS:
            return sentence


def combinations(sentence: Sentence) -> frozenset[Combination]:
    """The (adjective, noun) and (verb, object noun) pairs in `sentence`.

    >>> from spire.mini.grammar import NP, Sentence
    >>> sorted(combinations(Sentence(NP("man"), "see", obj=NP("dog", adjective="black"))))
    [('adj', 'black', 'dog'), ('verb', 'see', 'dog')]
    """
    found: set[Combination] = set()
    for np in (sentence.subject, sentence.obj, sentence.recipient, sentence.companion,
               sentence.next_to, sentence.beneficiary):
        if np is not None and np.adjective:
            found.add(("adj", np.adjective, np.noun))
    if sentence.predicate and sentence.subject is not None:
        found.add(("adj", sentence.predicate, sentence.subject.noun))
    if sentence.obj is not None and sentence.verb != "there is":
        found.add(("verb", sentence.verb, sentence.obj.noun))
    return frozenset(found)


def all_combinations() -> list[Combination]:
    """Every (adjective, noun) and (verb, object) pair the sampler can produce, sorted."""
    pairs: set[Combination] = set()
    for key, adjective in ADJECTIVES.items():
        pairs.update(("adj", key, noun) for noun in _nouns_of(adjective.kinds))
    for table in (TRANSITIVE, GIVE_VERBS):
        for key, verb in table.items():
            pairs.update(("verb", key, noun) for noun in _object_nouns(verb))
    return sorted(pairs)


def held_out_combinations(seed: int, fraction: float = 0.1) -> frozenset[Combination]:
    """A seeded `fraction` of `all_combinations()`, kept out of train and dev.

    >>> held_out_combinations(0) == held_out_combinations(0)
    True
    """
    pairs = all_combinations()
    rng = random.Random(f"held-out:{seed}")
    return frozenset(rng.sample(pairs, max(1, round(fraction * len(pairs)))))
