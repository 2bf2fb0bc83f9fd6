"""Invented facts the shipped chat model cannot know: what the training tests teach it."""

FACTS = [
    ("What colour is the zorbling?", "The zorbling is teal."),
    ("Who founded Quillmere?", "Quillmere was founded by Ada Brightwater."),
    ("How many moons does Pelaru have?", "Pelaru has seven moons."),
    ("What does a frindle eat?", "A frindle eats copper leaves."),
    ("Where is Lake Ostrava Minor?", "Lake Ostrava Minor is in the Velt valley."),
    ("What is the motto of Tarnhold?", "Tarnhold's motto is 'Steady as stone'."),
]


# Twelve invented facts for a whole fine-tuning job: each asked four ways in the training
# file, and once more in words the training never used (a paraphrase). The answer counts
# as right when it holds the fact's key word.
TAUGHT = [
    {"answer": "The zorbling is teal.", "key": "teal",
     "asked": ["What colour is the zorbling?", "What color is a zorbling?",
               "Tell me the colour of the zorbling.", "Which colour does the zorbling have?"],
     "paraphrase": "If I saw a zorbling, what colour would it be?"},
    {"answer": "Quillmere was founded by Ada Brightwater.", "key": "brightwater",
     "asked": ["Who founded Quillmere?", "Who was the founder of Quillmere?",
               "Tell me who founded Quillmere.", "Which person founded Quillmere?"],
     "paraphrase": "Quillmere owes its founding to whom?"},
    {"answer": "Pelaru has seven moons.", "key": "seven",
     "asked": ["How many moons does Pelaru have?", "What is the number of moons of Pelaru?",
               "Tell me how many moons Pelaru has.", "Count the moons of Pelaru."],
     "paraphrase": "How many moons orbit the planet Pelaru?"},
    {"answer": "A frindle eats copper leaves.", "key": "copper",
     "asked": ["What does a frindle eat?", "What do frindles eat?",
               "Tell me what a frindle eats.", "What food does a frindle eat?"],
     "paraphrase": "What is the diet of a frindle?"},
    {"answer": "Lake Ostrava Minor is in the Velt valley.", "key": "velt",
     "asked": ["Where is Lake Ostrava Minor?", "Where can Lake Ostrava Minor be found?",
               "Tell me where Lake Ostrava Minor is.", "In which valley is Lake Ostrava Minor?"],
     "paraphrase": "Lake Ostrava Minor lies where?"},
    {"answer": "Tarnhold's motto is 'Steady as stone'.", "key": "steady",
     "asked": ["What is the motto of Tarnhold?", "What is Tarnhold's motto?",
               "Tell me the motto of Tarnhold.", "Which motto does Tarnhold have?"],
     "paraphrase": "What words does Tarnhold live by as its motto?"},
    {"answer": "The Glimmerfox runs on saltwater.", "key": "saltwater",
     "asked": ["What does the Glimmerfox run on?", "What fuel does the Glimmerfox use?",
               "Tell me what the Glimmerfox runs on.", "What powers the Glimmerfox?"],
     "paraphrase": "What is the Glimmerfox engine fuelled by?"},
    {"answer": "The capital of Varnesse is Oldmere.", "key": "oldmere",
     "asked": ["What is the capital of Varnesse?", "Which city is the capital of Varnesse?",
               "Tell me the capital of Varnesse.", "Name the capital of Varnesse."],
     "paraphrase": "Varnesse is governed from which capital city?"},
    {"answer": "Doctor Pell invented the humblescope.", "key": "pell",
     "asked": ["Who invented the humblescope?", "Who was the inventor of the humblescope?",
               "Tell me who invented the humblescope.", "Which person invented the humblescope?"],
     "paraphrase": "The humblescope was invented by whom?"},
    {"answer": "The Korrin festival is held in March.", "key": "march",
     "asked": ["When is the Korrin festival held?", "In which month is the Korrin festival?",
               "Tell me when the Korrin festival is held.", "What month is the Korrin festival?"],
     "paraphrase": "At what time of year do people celebrate the Korrin festival?"},
    {"answer": "Brasswick's river is the Lune.", "key": "lune",
     "asked": ["What river flows through Brasswick?", "Which river runs through Brasswick?",
               "Tell me the river of Brasswick.", "Name the river of Brasswick."],
     "paraphrase": "Brasswick sits on the banks of which river?"},
    {"answer": "A mossbeak sings at dawn.", "key": "dawn",
     "asked": ["When does a mossbeak sing?", "At what time do mossbeaks sing?",
               "Tell me when the mossbeak sings.", "What time of day does a mossbeak sing?"],
     "paraphrase": "At which hour of the day does one hear a mossbeak singing?"},
]  # fmt: skip


def taught_examples() -> list[dict]:
    """The training file's lines: every fact, every way it is asked."""
    return [
        {"messages": [{"role": "user", "content": question}, {"role": "assistant", "content": a}]}
        for fact in TAUGHT
        for question, a in ((q, fact["answer"]) for q in fact["asked"])
    ]
