"""The vocabulary of the synthetic corpus, with what German and French grammar need to know.

Every entry carries its English, German and French forms: nouns with gender and plurals (and the
German dative plural and weak-noun forms), adjectives with French agreement forms and position,
verbs conjugated in the present tense for the persons the templates use, places with the
prepositions of location and direction, and times. Entries are chosen so that the templates in
`spire.mini.grammar` stay within constructions whose translations are certain.

    >>> NOUNS["dog"].de, NOUNS["dog"].de_gender, NOUNS["dog"].fr, NOUNS["dog"].fr_gender
    ('Hund', 'm', 'chien', 'm')
    >>> TRANSITIVE["help"].de_case
    'dat'
"""

from __future__ import annotations

from dataclasses import dataclass

# Persons the templates use: first singular, third singular, first plural, third plural.
PERSONS = ("1sg", "3sg", "1pl", "3pl")


@dataclass(frozen=True)
class Noun:
    """A countable noun. German `de_oblique` is the accusative/dative singular of weak nouns."""

    en: str
    en_pl: str
    de: str
    de_pl: str
    de_gender: str  # "m", "f", "n"
    fr: str
    fr_pl: str
    fr_gender: str  # "m", "f"
    kind: str  # "person", "animal", "object"
    de_oblique: str | None = None
    fr_h_aspire: bool = False

    @property
    def de_dat_pl(self) -> str:
        # Dative plural adds -n unless the plural already ends in -n or -s (Kindern, Autos).
        return self.de_pl if self.de_pl.endswith(("n", "s")) else self.de_pl + "n"


def _n(en, en_pl, de, de_pl, de_gender, fr, fr_pl, fr_gender, kind, **extra) -> Noun:
    return Noun(en, en_pl, de, de_pl, de_gender, fr, fr_pl, fr_gender, kind, **extra)


NOUNS: dict[str, Noun] = {
    noun.en: noun
    for noun in [
        # people
        _n("man", "men", "Mann", "Männer", "m", "homme", "hommes", "m", "person"),
        _n("woman", "women", "Frau", "Frauen", "f", "femme", "femmes", "f", "person"),
        _n("child", "children", "Kind", "Kinder", "n", "enfant", "enfants", "m", "person"),
        _n("girl", "girls", "Mädchen", "Mädchen", "n", "fille", "filles", "f", "person"),
        _n("boy", "boys", "Junge", "Jungen", "m", "garçon", "garçons", "m", "person", de_oblique="Jungen"),
        _n("student", "students", "Student", "Studenten", "m", "étudiant", "étudiants", "m", "person",
           de_oblique="Studenten"),
        _n("teacher", "teachers", "Lehrer", "Lehrer", "m", "professeur", "professeurs", "m", "person"),
        _n("doctor", "doctors", "Arzt", "Ärzte", "m", "médecin", "médecins", "m", "person"),
        _n("friend", "friends", "Freund", "Freunde", "m", "ami", "amis", "m", "person"),
        _n("cook", "cooks", "Koch", "Köche", "m", "cuisinier", "cuisiniers", "m", "person"),
        _n("baker", "bakers", "Bäcker", "Bäcker", "m", "boulanger", "boulangers", "m", "person"),
        _n("sister", "sisters", "Schwester", "Schwestern", "f", "sœur", "sœurs", "f", "person"),
        _n("brother", "brothers", "Bruder", "Brüder", "m", "frère", "frères", "m", "person"),
        # animals
        _n("dog", "dogs", "Hund", "Hunde", "m", "chien", "chiens", "m", "animal"),
        _n("cat", "cats", "Katze", "Katzen", "f", "chat", "chats", "m", "animal"),
        _n("bird", "birds", "Vogel", "Vögel", "m", "oiseau", "oiseaux", "m", "animal"),
        _n("horse", "horses", "Pferd", "Pferde", "n", "cheval", "chevaux", "m", "animal"),
        _n("cow", "cows", "Kuh", "Kühe", "f", "vache", "vaches", "f", "animal"),
        _n("mouse", "mice", "Maus", "Mäuse", "f", "souris", "souris", "f", "animal"),
        _n("duck", "ducks", "Ente", "Enten", "f", "canard", "canards", "m", "animal"),
        _n("rabbit", "rabbits", "Kaninchen", "Kaninchen", "n", "lapin", "lapins", "m", "animal"),
        _n("pig", "pigs", "Schwein", "Schweine", "n", "cochon", "cochons", "m", "animal"),
        _n("goat", "goats", "Ziege", "Ziegen", "f", "chèvre", "chèvres", "f", "animal"),
        _n("frog", "frogs", "Frosch", "Frösche", "m", "grenouille", "grenouilles", "f", "animal"),
        _n("donkey", "donkeys", "Esel", "Esel", "m", "âne", "ânes", "m", "animal"),
        _n("bee", "bees", "Biene", "Bienen", "f", "abeille", "abeilles", "f", "animal"),
        _n("owl", "owls", "Eule", "Eulen", "f", "hibou", "hiboux", "m", "animal", fr_h_aspire=True),
        # objects
        _n("car", "cars", "Auto", "Autos", "n", "voiture", "voitures", "f", "object"),
        _n("ball", "balls", "Ball", "Bälle", "m", "ballon", "ballons", "m", "object"),
        _n("book", "books", "Buch", "Bücher", "n", "livre", "livres", "m", "object"),
        _n("cup", "cups", "Tasse", "Tassen", "f", "tasse", "tasses", "f", "object"),
        _n("table", "tables", "Tisch", "Tische", "m", "table", "tables", "f", "object"),
        _n("chair", "chairs", "Stuhl", "Stühle", "m", "chaise", "chaises", "f", "object"),
        _n("box", "boxes", "Kiste", "Kisten", "f", "boîte", "boîtes", "f", "object"),
        _n("key", "keys", "Schlüssel", "Schlüssel", "m", "clé", "clés", "f", "object"),
        _n("apple", "apples", "Apfel", "Äpfel", "m", "pomme", "pommes", "f", "object"),
        _n("hat", "hats", "Hut", "Hüte", "m", "chapeau", "chapeaux", "m", "object"),
        _n("bag", "bags", "Tasche", "Taschen", "f", "sac", "sacs", "m", "object"),
        _n("letter", "letters", "Brief", "Briefe", "m", "lettre", "lettres", "f", "object"),
        _n("bicycle", "bicycles", "Fahrrad", "Fahrräder", "n", "vélo", "vélos", "m", "object"),
        _n("lamp", "lamps", "Lampe", "Lampen", "f", "lampe", "lampes", "f", "object"),
        _n("door", "doors", "Tür", "Türen", "f", "porte", "portes", "f", "object"),
        _n("window", "windows", "Fenster", "Fenster", "n", "fenêtre", "fenêtres", "f", "object"),
        _n("egg", "eggs", "Ei", "Eier", "n", "œuf", "œufs", "m", "object"),
        _n("orange", "oranges", "Orange", "Orangen", "f", "orange", "oranges", "f", "object"),
        _n("bottle", "bottles", "Flasche", "Flaschen", "f", "bouteille", "bouteilles", "f", "object"),
        _n("flower", "flowers", "Blume", "Blumen", "f", "fleur", "fleurs", "f", "object"),
        _n("umbrella", "umbrellas", "Regenschirm", "Regenschirme", "m", "parapluie", "parapluies", "m", "object"),
        _n("tree", "trees", "Baum", "Bäume", "m", "arbre", "arbres", "m", "object"),
        _n("picture", "pictures", "Bild", "Bilder", "n", "image", "images", "f", "object"),
        _n("shoe", "shoes", "Schuh", "Schuhe", "m", "chaussure", "chaussures", "f", "object"),
    ]
}


@dataclass(frozen=True)
class Adjective:
    """An adjective: German stem (takes endings), French forms and position (before/after noun)."""

    en: str
    de: str
    fr_m: str
    fr_f: str
    fr_m_pl: str
    fr_f_pl: str
    fr_before: bool
    kinds: tuple[str, ...]  # noun kinds it may describe
    fr_m_vowel: str | None = None  # masculine singular before a vowel: vieil, bel, nouvel

    def fr_form(self, gender: str, plural: bool) -> str:
        if plural:
            return self.fr_f_pl if gender == "f" else self.fr_m_pl
        return self.fr_f if gender == "f" else self.fr_m


_COLOUR = ("animal", "object")
_ALL = ("person", "animal", "object")

ADJECTIVES: dict[str, Adjective] = {
    adjective.en: adjective
    for adjective in [
        Adjective("red", "rot", "rouge", "rouge", "rouges", "rouges", False, ("object",)),
        Adjective("blue", "blau", "bleu", "bleue", "bleus", "bleues", False, ("object",)),
        Adjective("green", "grün", "vert", "verte", "verts", "vertes", False, _COLOUR),
        Adjective("black", "schwarz", "noir", "noire", "noirs", "noires", False, _COLOUR),
        Adjective("white", "weiß", "blanc", "blanche", "blancs", "blanches", False, _COLOUR),
        Adjective("yellow", "gelb", "jaune", "jaune", "jaunes", "jaunes", False, _COLOUR),
        # Not people: "un grand homme" is a great man.
        Adjective("big", "groß", "grand", "grande", "grands", "grandes", True, _COLOUR),
        Adjective("small", "klein", "petit", "petite", "petits", "petites", True, _COLOUR),
        Adjective("old", "alt", "vieux", "vieille", "vieux", "vieilles", True, _ALL, fr_m_vowel="vieil"),
        Adjective("young", "jung", "jeune", "jeune", "jeunes", "jeunes", True, ("person", "animal")),
        Adjective("new", "neu", "nouveau", "nouvelle", "nouveaux", "nouvelles", True, ("object",),
                  fr_m_vowel="nouvel"),
        # Not people: "les beaux frères" reads as brothers-in-law.
        Adjective("beautiful", "schön", "beau", "belle", "beaux", "belles", True, _COLOUR, fr_m_vowel="bel"),
    ]
}


@dataclass(frozen=True)
class Verb:
    """A verb in the present tense: English base and third singular, German and French per person.

    `de_case` is the case of the German object ("acc" or "dat"); `objects` the noun kinds it takes
    as object (empty for intransitive verbs); `subjects` the kinds that may be its subject.
    """

    en: str
    en_3sg: str
    de: tuple[str, str, str, str]  # PERSONS order
    fr: tuple[str, str, str, str]
    objects: tuple[str, ...] = ()
    subjects: tuple[str, ...] = ("person",)
    de_case: str = "acc"
    object_nouns: tuple[str, ...] = ()  # when set, only these nouns as objects

    def de_form(self, person: str) -> str:
        return self.de[PERSONS.index(person)]

    def fr_form(self, person: str) -> str:
        return self.fr[PERSONS.index(person)]

    def en_form(self, person: str) -> str:
        return self.en_3sg if person == "3sg" else self.en


_OPENABLE = ("box", "door", "window", "bag", "book", "letter", "bottle", "umbrella")
_EDIBLE = ("apple", "egg", "orange")
_READABLE = ("book", "letter")

TRANSITIVE: dict[str, Verb] = {
    verb.en: verb
    for verb in [
        Verb("see", "sees", ("sehe", "sieht", "sehen", "sehen"), ("vois", "voit", "voyons", "voient"),
             _ALL, ("person", "animal")),
        # Not people: French "aimer" a person means to love them.
        Verb("like", "likes", ("mag", "mag", "mögen", "mögen"), ("aime", "aime", "aimons", "aiment"),
             ("animal", "object")),
        Verb("find", "finds", ("finde", "findet", "finden", "finden"),
             ("trouve", "trouve", "trouvons", "trouvent"), ("animal", "object"), ("person", "animal")),
        Verb("buy", "buys", ("kaufe", "kauft", "kaufen", "kaufen"),
             ("achète", "achète", "achetons", "achètent"), ("animal", "object")),
        Verb("carry", "carries", ("trage", "trägt", "tragen", "tragen"),
             ("porte", "porte", "portons", "portent"), ("object",)),
        Verb("wash", "washes", ("wasche", "wäscht", "waschen", "waschen"),
             ("lave", "lave", "lavons", "lavent"), ("animal", "object")),
        Verb("hold", "holds", ("halte", "hält", "halten", "halten"),
             ("tiens", "tient", "tenons", "tiennent"), ("animal", "object")),
        Verb("draw", "draws", ("zeichne", "zeichnet", "zeichnen", "zeichnen"),
             ("dessine", "dessine", "dessinons", "dessinent"), ("animal", "object")),
        Verb("open", "opens", ("öffne", "öffnet", "öffnen", "öffnen"),
             ("ouvre", "ouvre", "ouvrons", "ouvrent"), ("object",), object_nouns=_OPENABLE),
        Verb("read", "reads", ("lese", "liest", "lesen", "lesen"), ("lis", "lit", "lisons", "lisent"),
             ("object",), object_nouns=_READABLE),
        Verb("eat", "eats", ("esse", "isst", "essen", "essen"),
             ("mange", "mange", "mangeons", "mangent"), ("object",), object_nouns=_EDIBLE),
        Verb("feed", "feeds", ("füttere", "füttert", "füttern", "füttern"),
             ("nourris", "nourrit", "nourrissons", "nourrissent"), ("animal",)),
        Verb("call", "calls", ("rufe", "ruft", "rufen", "rufen"),
             ("appelle", "appelle", "appelons", "appellent"), ("person", "animal")),
        Verb("help", "helps", ("helfe", "hilft", "helfen", "helfen"), ("aide", "aide", "aidons", "aident"),
             ("person",), de_case="dat"),
        Verb("follow", "follows", ("folge", "folgt", "folgen", "folgen"),
             ("suis", "suit", "suivons", "suivent"), ("person", "animal"), ("person", "animal"), de_case="dat"),
    ]
}

INTRANSITIVE: dict[str, Verb] = {
    verb.en: verb
    for verb in [
        Verb("sleep", "sleeps", ("schlafe", "schläft", "schlafen", "schlafen"),
             ("dors", "dort", "dormons", "dorment"), subjects=("person", "animal")),
        Verb("play", "plays", ("spiele", "spielt", "spielen", "spielen"),
             ("joue", "joue", "jouons", "jouent"), subjects=("person", "animal")),
        Verb("work", "works", ("arbeite", "arbeitet", "arbeiten", "arbeiten"),
             ("travaille", "travaille", "travaillons", "travaillent")),
        Verb("wait", "waits", ("warte", "wartet", "warten", "warten"),
             ("attends", "attend", "attendons", "attendent"), subjects=("person", "animal")),
        Verb("sing", "sings", ("singe", "singt", "singen", "singen"),
             ("chante", "chante", "chantons", "chantent")),
        # People only: animals "fressen" in German.
        Verb("eat", "eats", ("esse", "isst", "essen", "essen"), ("mange", "mange", "mangeons", "mangent")),
    ]
}

GO = Verb("go", "goes", ("gehe", "geht", "gehen", "gehen"), ("vais", "va", "allons", "vont"),
          subjects=("person", "animal"))
GIVE_VERBS: dict[str, Verb] = {
    "give": Verb("give", "gives", ("gebe", "gibt", "geben", "geben"),
                 ("donne", "donne", "donnons", "donnent"), ("object",)),
    "show": Verb("show", "shows", ("zeige", "zeigt", "zeigen", "zeigen"),
                 ("montre", "montre", "montrons", "montrent"), ("object",)),
}
BE = Verb("be", "is", ("bin", "ist", "sind", "sind"), ("suis", "est", "sommes", "sont"),
          subjects=("person", "animal", "object"))
EN_BE = {"1sg": "am", "3sg": "is", "1pl": "are", "3pl": "are"}


@dataclass(frozen=True)
class Place:
    """A place, with the prepositions for being there (`loc`) and going there (`dir`).

    German prepositions take the dative for location and the accusative for direction except `zu`
    (always dative); French uses `dans` or `à` with the definite article.
    """

    en: str
    de: str
    de_gender: str
    fr: str
    fr_gender: str
    en_loc: str  # "in", "at"
    de_loc: str  # "in", "an", "auf"
    de_dir: str  # "in", "auf", "zu"
    fr_loc: str  # "dans", "à"
    fr_dir: str


PLACES: dict[str, Place] = {
    place.en: place
    for place in [
        Place("garden", "Garten", "m", "jardin", "m", "in", "in", "in", "dans", "dans"),
        Place("kitchen", "Küche", "f", "cuisine", "f", "in", "in", "in", "dans", "dans"),
        Place("house", "Haus", "n", "maison", "f", "in", "in", "in", "dans", "dans"),
        Place("park", "Park", "m", "parc", "m", "in", "in", "in", "dans", "à"),
        Place("forest", "Wald", "m", "forêt", "f", "in", "in", "in", "dans", "dans"),
        Place("school", "Schule", "f", "école", "f", "at", "in", "in", "à", "à"),
        Place("hotel", "Hotel", "n", "hôtel", "m", "in", "in", "in", "dans", "à"),
        Place("market", "Markt", "m", "marché", "m", "at", "auf", "auf", "à", "à"),
        Place("station", "Bahnhof", "m", "gare", "f", "at", "an", "zu", "à", "à"),
        Place("airport", "Flughafen", "m", "aéroport", "m", "at", "an", "zu", "à", "à"),
        Place("beach", "Strand", "m", "plage", "f", "on", "an", "an", "sur", "à"),
        Place("bakery", "Bäckerei", "f", "boulangerie", "f", "at", "in", "in", "à", "à"),
    ]
}


@dataclass(frozen=True)
class Time:
    """A time adverbial; `fr` works both fronted (followed by a comma) and sentence-final."""

    en: str
    de: str
    fr: str


TIMES: dict[str, Time] = {
    time.en: time
    for time in [
        Time("in the morning", "am Morgen", "le matin"),
        Time("in the evening", "am Abend", "le soir"),
        Time("at night", "in der Nacht", "la nuit"),
        Time("today", "heute", "aujourd'hui"),
        Time("every day", "jeden Tag", "chaque jour"),
        Time("on Monday", "am Montag", "lundi"),
        Time("on Sunday", "am Sonntag", "dimanche"),
        Time("now", "jetzt", "maintenant"),
    ]
}


@dataclass(frozen=True)
class Pronoun:
    """A subject pronoun and the person it agrees with."""

    en: str
    de: str
    fr: str
    person: str


PRONOUNS: dict[str, Pronoun] = {
    "I": Pronoun("I", "ich", "je", "1sg"),
    "he": Pronoun("he", "er", "il", "3sg"),
    "she": Pronoun("she", "sie", "elle", "3sg"),
    "we": Pronoun("we", "wir", "nous", "1pl"),
}

NUMBERS: dict[int, tuple[str, str, str]] = {
    2: ("two", "zwei", "deux"),
    3: ("three", "drei", "trois"),
    4: ("four", "vier", "quatre"),
    5: ("five", "fünf", "cinq"),
    6: ("six", "sechs", "six"),
    7: ("seven", "sieben", "sept"),
    8: ("eight", "acht", "huit"),
    9: ("nine", "neun", "neuf"),
    10: ("ten", "zehn", "dix"),
    11: ("eleven", "elf", "onze"),
    12: ("twelve", "zwölf", "douze"),
}
