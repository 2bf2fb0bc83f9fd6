"""Invented facts the shipped chat model cannot know: what the training tests teach it."""

FACTS = [
    ("What colour is the zorbling?", "The zorbling is teal."),
    ("Who founded Quillmere?", "Quillmere was founded by Ada Brightwater."),
    ("How many moons does Pelaru have?", "Pelaru has seven moons."),
    ("What does a frindle eat?", "A frindle eats copper leaves."),
    ("Where is Lake Ostrava Minor?", "Lake Ostrava Minor is in the Velt valley."),
    ("What is the motto of Tarnhold?", "Tarnhold's motto is 'Steady as stone'."),
]
