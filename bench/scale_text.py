"""Text for the scale check's 32,000-piece tokenizer, made here (nothing is downloaded).

The miniature's grammar has a few hundred words, far too few for 32,000 BPE pieces, so it is
mixed with pseudo-words: syllables drawn from Latin-script onsets, nuclei (accents included)
and codas, with Zipf-like frequencies, as natural text has. Both are seeded.

>>> len(spire_text(6, seed=0)), len(pseudo_sentences(3, seed=0))
(6, 3)
"""

from __future__ import annotations

import random

_ONSETS = ("", "b", "c", "d", "f", "g", "h", "k", "l", "m", "n", "p", "r", "s", "t", "v", "w",
           "z", "st", "tr", "pl", "kr", "sch", "br", "gl", "th", "ch", "sp", "qu", "j")
_NUCLEI = ("a", "e", "i", "o", "u", "ei", "au", "ou", "ie", "ä", "ö", "ü", "é", "è", "ar", "er",
           "or", "y", "oi", "ea")
_CODAS = ("", "n", "r", "s", "t", "l", "m", "nd", "rt", "st", "ck", "ng", "x", "ll", "ss")


def spire_text(count: int, *, seed: int) -> list[str]:
    """`count` sentences of the miniature's grammar, English, German and French in turn."""
    from spire.mini.grammar import realize
    from spire.mini.grammar_sampler import sample_sentence

    rng = random.Random(seed)
    out: list[str] = []
    while len(out) < count:
        t = realize(sample_sentence(rng))
        out.extend((t.en, t.de, t.fr))
    return out[:count]


def _lexicon(size: int, rng: random.Random) -> list[str]:
    words, seen = [], set()
    while len(words) < size:
        syllables = rng.choices((1, 2, 3, 4), weights=(3, 4, 2, 1))[0]
        word = "".join(rng.choice(_ONSETS) + rng.choice(_NUCLEI) + rng.choice(_CODAS) for _ in range(syllables))
        if word not in seen:
            seen.add(word)
            words.append(word)
    return words


def pseudo_sentences(count: int, *, seed: int, lexicon: int = 150_000) -> list[str]:
    """`count` sentences of 5-20 pseudo-words (Zipf exponent 0.8), with digits now and then."""
    rng = random.Random(seed)
    words = _lexicon(lexicon, random.Random(12345))  # one lexicon for every seed
    cumulative, total = [], 0.0
    for rank in range(len(words)):
        total += 1.0 / (rank + 1) ** 0.8
        cumulative.append(total)
    out = []
    for _ in range(count):
        picked = rng.choices(words, cum_weights=cumulative, k=rng.randint(5, 20))
        if rng.random() < 0.2:
            picked.insert(rng.randrange(len(picked)), str(rng.randint(0, 2025)))
        out.append(" ".join(picked).capitalize() + rng.choice((".", ".", "?", "!", ",")))
    return out
