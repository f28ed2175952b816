"""The realiser against hand-written translations, one group of cases per grammar rule,
and the sampler's invariants."""

import random

import pytest

from spire.errors import DataError
from spire.mini.grammar import NP, Sentence, realize
from spire.mini.grammar_sampler import (
    MAX_WORDS,
    MIN_WORDS,
    all_combinations,
    combinations,
    held_out_combinations,
    sample_sentence,
)

S = Sentence

# (rule, sentence structure, English, German, French) - expected strings written by hand.
CASES = [
    # articles and gender (nominative)
    ("gender", S(NP("woman"), "sleep", place="garden"),
     "The woman sleeps in the garden.", "Die Frau schläft im Garten.", "La femme dort dans le jardin."),
    ("gender", S(NP("child"), "play", place="park"),
     "The child plays in the park.", "Das Kind spielt im Park.", "L'enfant joue dans le parc."),
    ("gender", S(NP("cat", det="a"), "sleep", place="house"),
     "A cat sleeps in the house.", "Eine Katze schläft im Haus.", "Un chat dort dans la maison."),
    # accusative objects
    ("accusative", S(NP("girl"), "see", obj=NP("dog")),
     "The girl sees the dog.", "Das Mädchen sieht den Hund.", "La fille voit le chien."),
    ("accusative", S(NP("man"), "buy", obj=NP("ball", det="a")),
     "The man buys a ball.", "Der Mann kauft einen Ball.", "L'homme achète un ballon."),
    ("accusative", S(NP("woman"), "see", obj=NP("boy")),
     "The woman sees the boy.", "Die Frau sieht den Jungen.", "La femme voit le garçon."),
    ("accusative", S(NP("we"), "buy", obj=NP("hat", det="a"), beneficiary=NP("brother")),
     "We buy a hat for the brother.", "Wir kaufen einen Hut für den Bruder.",
     "Nous achetons un chapeau pour le frère."),
    # dative after prepositions and dative verbs
    ("dative", S(NP("boy"), "play", companion=NP("cat")),
     "The boy plays with the cat.", "Der Junge spielt mit der Katze.", "Le garçon joue avec le chat."),
    ("dative", S(NP("teacher"), "help", obj=NP("woman")),
     "The teacher helps the woman.", "Der Lehrer hilft der Frau.", "Le professeur aide la femme."),
    ("dative", S(NP("doctor"), "help", obj=NP("student")),
     "The doctor helps the student.", "Der Arzt hilft dem Studenten.", "Le médecin aide l'étudiant."),
    ("dative", S(NP("dog"), "wait", next_to=NP("tree")),
     "The dog waits next to the tree.", "Der Hund wartet neben dem Baum.", "Le chien attend à côté de l'arbre."),
    ("dative", S(NP("I"), "give", obj=NP("apple", det="a"), recipient=NP("horse")),
     "I give an apple to the horse.", "Ich gebe dem Pferd einen Apfel.", "Je donne une pomme au cheval."),
    ("dative", S(NP("bird"), "wait", next_to=NP("umbrella", det="a")),
     "The bird waits next to an umbrella.", "Der Vogel wartet neben einem Regenschirm.",
     "L'oiseau attend à côté d'un parapluie."),
    # place prepositions: location (dative) and direction (accusative, zu + dative), contractions
    ("place", S(NP("baker"), "work", place="market"),
     "The baker works at the market.", "Der Bäcker arbeitet auf dem Markt.", "Le boulanger travaille au marché."),
    ("place", S(NP("cook"), "wait", place="station"),
     "The cook waits at the station.", "Der Koch wartet am Bahnhof.", "Le cuisinier attend à la gare."),
    ("place", S(NP("friend"), "sleep", place="kitchen"),
     "The friend sleeps in the kitchen.", "Der Freund schläft in der Küche.", "L'ami dort dans la cuisine."),
    ("place", S(NP("man"), "go", place="garden", place_dir=True),
     "The man goes to the garden.", "Der Mann geht in den Garten.", "L'homme va dans le jardin."),
    ("place", S(NP("she"), "go", place="hotel", place_dir=True),
     "She goes to the hotel.", "Sie geht ins Hotel.", "Elle va à l'hôtel."),
    ("place", S(NP("we"), "go", place="station", place_dir=True),
     "We go to the station.", "Wir gehen zum Bahnhof.", "Nous allons à la gare."),
    ("place", S(NP("I"), "go", place="market", place_dir=True),
     "I go to the market.", "Ich gehe auf den Markt.", "Je vais au marché."),
    ("place", S(NP("girl"), "go", place="kitchen", place_dir=True),
     "The girl goes to the kitchen.", "Das Mädchen geht in die Küche.", "La fille va dans la cuisine."),
    ("place", S(NP("child"), "play", place="beach"),
     "The child plays on the beach.", "Das Kind spielt am Strand.", "L'enfant joue sur la plage."),
    # plural, dative plural -n
    ("plural", S(NP("cow", det=3), "sleep", place="forest"),
     "Three cows sleep in the forest.", "Drei Kühe schlafen im Wald.", "Trois vaches dorment dans la forêt."),
    ("plural", S(NP("child", plural=True), "play", companion=NP("dog", plural=True)),
     "The children play with the dogs.", "Die Kinder spielen mit den Hunden.", "Les enfants jouent avec les chiens."),
    ("plural", S(NP("cat"), "sleep", next_to=NP("car", plural=True)),
     "The cat sleeps next to the cars.", "Die Katze schläft neben den Autos.", "Le chat dort à côté des voitures."),
    ("plural", S(NP("woman"), "show", obj=NP("picture"), recipient=NP("child", plural=True)),
     "The woman shows the picture to the children.", "Die Frau zeigt den Kindern das Bild.",
     "La femme montre l'image aux enfants."),
    ("plural", S(NP("bee"), "sleep", next_to=NP("flower", det=11)),
     "The bee sleeps next to eleven flowers.", "Die Biene schläft neben elf Blumen.",
     "L'abeille dort à côté de onze fleurs."),
    ("plural", S(NP("mouse", det=2), "wait", place="house"),
     "Two mice wait in the house.", "Zwei Mäuse warten im Haus.", "Deux souris attendent dans la maison."),
    # adjective agreement: German weak / mixed / strong, French agreement and position
    ("adjective", S(NP("man"), "see", obj=NP("dog", adjective="black")),
     "The man sees the black dog.", "Der Mann sieht den schwarzen Hund.", "L'homme voit le chien noir."),
    ("adjective", S(NP("car", adjective="red"), "be", place="garden"),
     "The red car is in the garden.", "Das rote Auto ist im Garten.", "La voiture rouge est dans le jardin."),
    ("adjective", S(NP("cat", det="a", adjective="small"), "sleep", place="house"),
     "A small cat sleeps in the house.", "Eine kleine Katze schläft im Haus.", "Un petit chat dort dans la maison."),
    ("adjective", S(NP("dog", det="a", adjective="big"), "wait", place="park"),
     "A big dog waits in the park.", "Ein großer Hund wartet im Park.", "Un grand chien attend dans le parc."),
    ("adjective", S(NP("girl"), "buy", obj=NP("book", det="a", adjective="new")),
     "The girl buys a new book.", "Das Mädchen kauft ein neues Buch.", "La fille achète un nouveau livre."),
    ("adjective", S(NP("woman"), "feed", obj=NP("dog", det=3, adjective="big")),
     "The woman feeds three big dogs.", "Die Frau füttert drei große Hunde.", "La femme nourrit trois grands chiens."),
    ("adjective", S(NP("boy"), "play", companion=NP("cat", det=2, adjective="white")),
     "The boy plays with two white cats.", "Der Junge spielt mit zwei weißen Katzen.",
     "Le garçon joue avec deux chats blancs."),
    ("adjective", S(NP("dog", plural=True, adjective="big"), "sleep", place="garden"),
     "The big dogs sleep in the garden.", "Die großen Hunde schlafen im Garten.",
     "Les grands chiens dorment dans le jardin."),
    ("adjective", S(NP("woman"), "see", obj=NP("car", adjective="white")),
     "The woman sees the white car.", "Die Frau sieht das weiße Auto.", "La femme voit la voiture blanche."),
    ("adjective", S(NP("man", adjective="old"), "sleep", place="house"),
     "The old man sleeps in the house.", "Der alte Mann schläft im Haus.", "Le vieil homme dort dans la maison."),
    ("adjective", S(NP("man", det="a", adjective="old"), "sleep", place="park"),
     "An old man sleeps in the park.", "Ein alter Mann schläft im Park.", "Un vieil homme dort dans le parc."),
    ("adjective", S(NP("child"), "see", obj=NP("bird", det="a", adjective="beautiful")),
     "The child sees a beautiful bird.", "Das Kind sieht einen schönen Vogel.", "L'enfant voit un bel oiseau."),
    ("adjective", S(NP("cook"), "find", obj=NP("egg", det="a", adjective="new")),
     "The cook finds a new egg.", "Der Koch findet ein neues Ei.", "Le cuisinier trouve un nouvel œuf."),
    ("adjective", S(NP("cow", plural=True, adjective="old"), "sleep", place="forest"),
     "The old cows sleep in the forest.", "Die alten Kühe schlafen im Wald.",
     "Les vieilles vaches dorment dans la forêt."),
    ("adjective", S(NP("duck"), "sleep", next_to=NP("ball", adjective="green")),
     "The duck sleeps next to the green ball.", "Die Ente schläft neben dem grünen Ball.",
     "Le canard dort à côté du ballon vert."),
    ("adjective", S(NP("car", plural=True), "be", predicate="red"),
     "The cars are red.", "Die Autos sind rot.", "Les voitures sont rouges."),
    ("adjective", S(NP("flower", plural=True), "be", predicate="small"),
     "The flowers are small.", "Die Blumen sind klein.", "Les fleurs sont petites."),
    ("adjective", S(NP("cat"), "be", predicate="white"),
     "The cat is white.", "Die Katze ist weiß.", "Le chat est blanc."),
    # conjugation: persons and numbers
    ("conjugation", S(NP("I"), "read", obj=NP("book")),
     "I read the book.", "Ich lese das Buch.", "Je lis le livre."),
    ("conjugation", S(NP("he"), "read", obj=NP("book")),
     "He reads the book.", "Er liest das Buch.", "Il lit le livre."),
    ("conjugation", S(NP("we"), "read", obj=NP("letter")),
     "We read the letter.", "Wir lesen den Brief.", "Nous lisons la lettre."),
    ("conjugation", S(NP("teacher", plural=True), "read", obj=NP("book")),
     "The teachers read the book.", "Die Lehrer lesen das Buch.", "Les professeurs lisent le livre."),
    ("conjugation", S(NP("I"), "be", place="station"),
     "I am at the station.", "Ich bin am Bahnhof.", "Je suis à la gare."),
    ("conjugation", S(NP("we"), "be", place="kitchen"),
     "We are in the kitchen.", "Wir sind in der Küche.", "Nous sommes dans la cuisine."),
    ("conjugation", S(NP("she"), "carry", obj=NP("bag")),
     "She carries the bag.", "Sie trägt die Tasche.", "Elle porte le sac."),
    # word order: German verb second after a fronted time; time before place in the middle field
    ("word order", S(NP("man"), "see", obj=NP("dog"), time="in the morning", time_first=True),
     "In the morning, the man sees the dog.", "Am Morgen sieht der Mann den Hund.",
     "Le matin, l'homme voit le chien."),
    ("word order", S(NP("I"), "go", place="park", place_dir=True, time="today", time_first=True),
     "Today, I go to the park.", "Heute gehe ich in den Park.", "Aujourd'hui, je vais au parc."),
    ("word order", S(None, "there is", obj=NP("dog", det="a"), place="garden", time="at night", time_first=True),
     "At night, there is a dog in the garden.", "In der Nacht gibt es einen Hund im Garten.",
     "La nuit, il y a un chien dans le jardin."),
    ("word order", S(NP("woman"), "sleep", place="garden", time="every day"),
     "The woman sleeps in the garden every day.", "Die Frau schläft jeden Tag im Garten.",
     "La femme dort dans le jardin chaque jour."),
    ("word order", S(NP("girl", plural=True), "feed", obj=NP("horse"), time="on Sunday", time_first=True),
     "On Sunday, the girls feed the horse.", "Am Sonntag füttern die Mädchen das Pferd.",
     "Dimanche, les filles nourrissent le cheval."),
    # French elision and h aspiré
    ("elision", S(NP("I"), "like", obj=NP("cat")),
     "I like the cat.", "Ich mag die Katze.", "J'aime le chat."),
    ("elision", S(NP("I"), "open", obj=NP("door")),
     "I open the door.", "Ich öffne die Tür.", "J'ouvre la porte."),
    ("elision", S(NP("I"), "wait", place="school"),
     "I wait at the school.", "Ich warte in der Schule.", "J'attends à l'école."),
    ("elision", S(NP("girl"), "see", obj=NP("owl")),
     "The girl sees the owl.", "Das Mädchen sieht die Eule.", "La fille voit le hibou."),
    ("elision", S(NP("frog"), "wait", next_to=NP("owl")),
     "The frog waits next to the owl.", "Der Frosch wartet neben der Eule.", "La grenouille attend à côté du hibou."),
    ("elision", S(NP("donkey"), "sleep", place="airport"),
     "The donkey sleeps at the airport.", "Der Esel schläft am Flughafen.", "L'âne dort à l'aéroport."),
]


@pytest.mark.parametrize("rule,sentence,en,de,fr", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_realiser_matches_hand_written_translation(rule, sentence, en, de, fr):
    translation = realize(sentence)
    assert (translation.en, translation.de, translation.fr) == (en, de, fr)


def test_every_rule_has_cases():
    rules = {case[0] for case in CASES}
    assert rules >= {"gender", "accusative", "dative", "place", "plural", "adjective", "conjugation",
                     "word order", "elision"}


def test_invalid_structures_raise_data_error():
    with pytest.raises(DataError, match="must be singular"):
        NP("dog", det="a", plural=True)
    with pytest.raises(DataError, match="lexicon noun"):
        NP("unicorn")
    with pytest.raises(DataError, match="verb must be"):
        realize(Sentence(NP("man"), "see"))  # a transitive verb without its object


def test_sampler_is_deterministic_and_respects_length():
    first = [realize(sample_sentence(random.Random(7))) for _ in range(3)]
    again = [realize(sample_sentence(random.Random(7))) for _ in range(3)]
    assert first == again
    rng = random.Random(0)
    for _ in range(500):
        translation = realize(sample_sentence(rng))
        assert MIN_WORDS <= len(translation.en.split()) <= MAX_WORDS
        for text in (translation.en, translation.de, translation.fr):
            assert text[0].isupper() and text.endswith(".") and "  " not in text


def test_sampled_combinations_are_in_the_inventory():
    inventory = set(all_combinations())
    rng = random.Random(1)
    for _ in range(500):
        assert combinations(sample_sentence(rng)) <= inventory


def test_held_out_combinations_are_seeded():
    assert held_out_combinations(0) == held_out_combinations(0)
    assert held_out_combinations(0) != held_out_combinations(1)
    assert 0 < len(held_out_combinations(0)) < len(all_combinations())


@pytest.mark.parametrize("name", ["spire.mini.lexicon", "spire.mini.grammar", "spire.mini.grammar_sampler"])
def test_docstring_examples_run(name):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(name))
    assert result.attempted > 0 and result.failed == 0
