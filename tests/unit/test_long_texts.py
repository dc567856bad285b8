"""Long texts: a diary entry, a letter, a rant. Several feelings are mentioned in passing; the
reading is the one the whole text is about (issue 9, item 4).

Development paragraphs written for this file (dev data, seen while tuning); the blind measure
is the long category of holdout4 and holdout5 (tests/unit/test_holdouts.py), which never fed
this file. Three batches, each written before the changes it then drove, first pass on the
code as it stood (family right):

- ``PARAGRAPHS`` (18; five over 1,000 characters, one Spanish, one French), before any
  long-text work (commit 954ec72): 11/18. Its misses: a happy ending after a hard year,
  an aside closing a letter of grief ("Anyway, the weather was lovely"), a farmhouse at
  night read as suspense, "lost friends" making a whole hopeful text grief.
- ``PROBE`` (8), after the sentence reader, turns, asides and saturation: 3/8 ("I'm SO
  done" read as relief, a homecoming's tears as grief, "keep going to the window" as
  defiance).
- ``THIRD`` (5), after the second round: 2/5 (a marathon's sobbing at the finish line).

All 31 right now.
"""

from __future__ import annotations

import pytest

from kmidi.affect import analyse_text
from kmidi.emotions import PRESETS

PARAGRAPHS: list[tuple[str, str]] = [
    (
        "Today was my first day back at work since the funeral. Everyone was kind, someone "
        "brought cake, and for a moment I laughed at a silly joke in the kitchen. But the "
        "whole time I kept looking at the empty desk by the window where Mark used to sit. "
        "His mug is still there. I don't know how to walk past it every day. I came home, "
        "sat in the car in the driveway for twenty minutes, and cried until my head hurt. "
        "I miss him so much.",
        "sadness",
    ),
    (
        "Okay so I was SO nervous this morning, I barely slept and I almost threw up before "
        "the interview. The panel looked serious and I stumbled over the first question. But "
        "then we started talking about the project I did last year and everything clicked. "
        "They called me back this afternoon - I got the job!!! I called my mum screaming, "
        "we're going out for dinner tonight to celebrate. I still can't believe it.",
        "joy",
    ),
    (
        "Third time this month the landlord has 'forgotten' to fix the heating. I emailed, I "
        "called, I left a note. Nothing. Meanwhile the rent went up again and the flat is "
        "freezing. My neighbour says he's the same with everyone and laughs about it. I'm "
        "tired of being polite to someone who treats us like this. Tomorrow I'm going to the "
        "tenants' association and I'm not backing down.",
        "anger",
    ),
    (
        "We cleared out my parents' house this weekend before the sale. In the attic we found "
        "boxes of school reports, my brother's old football boots, the Christmas decorations "
        "we made out of egg cartons. Mum's handwriting on every label. We sat on the floor for "
        "hours reading old letters and laughing at photos of terrible haircuts. It felt like "
        "being twelve again, summers in the garden, the smell of cut grass. Strange to think "
        "another family will live there now.",
        "nostalgia",
    ),
    (
        "I keep telling myself it's probably nothing. The doctor said the scan is just a "
        "precaution. I went to work, answered emails, even went to the gym like a normal "
        "person. But every time my phone buzzes my stomach drops. I've read too much online. "
        "I lie awake at 3am running through every possibility. The results come back on "
        "Thursday and I don't know how I'm going to get through the next four days.",
        "fear",
    ),
    (
        "After a brutal month of deadlines I finally took a week off and went up to the cabin. "
        "No signal, no laptop. I spend the mornings by the lake with a coffee, watching the "
        "mist lift off the water. Afternoons are for reading and naps, evenings for the fire. "
        "The stress of the office feels like something that happened to someone else. I'm "
        "sleeping nine hours a night and I haven't checked the time once today.",
        "peace",
    ),
    (
        "This year has been the hardest of my life. The divorce, moving out, the months where "
        "I could barely get out of bed. I lost friends I thought would stay. But something "
        "shifted this spring. I started running again, I painted the little flat yellow, I "
        "said yes to dinners. Last night I sat on my balcony watching the sunset and realised "
        "I was smiling for no reason. I think I'm going to be okay. I'm actually looking "
        "forward to what comes next.",
        "joy",
    ),
    (
        "My daughter turned six today. She insisted on wearing her dinosaur costume to the "
        "party and roared at every guest. There were tears when the balloon popped and a "
        "tantrum over the cake, and I was exhausted by four o'clock. But tonight she fell "
        "asleep holding my hand and whispered that it was the best birthday ever. I sat there "
        "in the dark for a long time just watching her breathe.",
        "tenderness",
    ),
    (
        "People keep asking how I am and I say fine. I get up, I go to work, I come home, I "
        "eat something, I scroll until I fall asleep. Friends invited me out on Saturday and "
        "I said I was busy. I wasn't. I don't feel sad exactly. I don't feel anything much. "
        "Days blur into each other. Even the things I used to love, music, football, cooking, "
        "just seem like noise now. I'm going through the motions.",
        "detachment",
    ),
    (
        "We drove through the night to reach the desert before dawn. At first it was just cold "
        "and dark and I was grumpy and tired. Then the sky started to change. Pink, then "
        "orange, then this huge silent light spilling over the dunes as far as you could see. "
        "Nobody said a word. I have never felt so small, or so lucky to be alive. The photos "
        "don't come close. I'll remember that morning for the rest of my life.",
        "awe",
    ),
    (
        "Moving to Berlin was supposed to be the big adventure. The first week was exciting: "
        "new flat, new job, the bakery on the corner with the best pretzels I've ever had. "
        "Everyone at work is friendly enough, in a polite, distant way. But it's been four "
        "months now. I eat dinner alone most nights. On weekends I walk around the city for "
        "hours just to hear people talking. My phone is quiet. Back home my friends have their "
        "group chat and their Sunday brunches and I see the photos a day later. I tried a "
        "language exchange meetup and stood in the corner with a warm beer for an hour. I "
        "tell my parents it's all going great because I don't want them to worry. Tonight I "
        "cooked a proper meal for the first time in weeks and then realised there was nobody "
        "to share it with. The flat is so quiet I can hear the fridge. I don't know how long "
        "I can keep doing this on my own. I just want someone to knock on the door and ask "
        "how my day was.",
        "sadness",
    ),
    (
        "I'm writing this at 2am because I can't sleep and I don't want to forget a single "
        "minute of today. The morning was chaos: the florist was late, my sister spilled "
        "coffee on her dress, and I cried in the car because Grandma wasn't there to see it. "
        "I was so nervous walking down the aisle that my hands were shaking. Then I saw "
        "Daniel at the end, grinning like an idiot, and all of it just fell away. The vows, "
        "the ridiculous speeches, his dad dancing on a table, our friends singing at the top "
        "of their lungs. We danced until they turned the lights on. My feet are ruined and my "
        "face hurts from smiling. Best day of my life, honestly. I'm married! I'm MARRIED!",
        "joy",
    ),
    (
        "I have been trying to stay calm about this, I really have. On the 3rd of March I "
        "ordered a sofa. It was supposed to arrive in two weeks. It is now June. I have "
        "called customer service eleven times. Each time a very pleasant person tells me "
        "that it is 'with the warehouse' and that someone will call me back within 48 hours. "
        "Nobody ever calls back. Last week they told me the order had been delivered. It "
        "has not. I have been sitting on a camping chair for three months. They took my "
        "money on the first day, of course. I asked for a refund and was told I would have "
        "to wait for the investigation. What investigation? I'm done being nice. I am "
        "FURIOUS and I'm reporting them to every consumer body I can find.",
        "anger",
    ),
    (
        "My husband is away for work this week so it's just me and the dog in the old "
        "farmhouse. Normally I love the quiet out here. Tonight the power went out around "
        "ten and the dog started growling at the back door, which she never does. I told "
        "myself it was a fox. Then I heard the gravel in the yard crunch, slowly, like "
        "someone trying not to be heard. My phone has one bar of signal. I've locked myself "
        "in the bathroom with the dog and a torch and I'm typing this because I don't know "
        "what else to do. Every creak of the house makes my heart stop. I can hear my own "
        "pulse. The nearest neighbour is two miles away.",
        "fear",
    ),
    (
        "Dear Nan, it's been a year today. I went to the bench by the river, the one where we "
        "used to feed the ducks, and sat there for a long time. I still pick up the phone "
        "on Sundays to call you before I remember. Mum is doing better, she's started "
        "gardening again, your roses are coming up beautifully. The house feels so empty "
        "without your radio on in the kitchen. I would give anything for one more cup of "
        "tea with you. Anyway, the weather was lovely today and the kids say hello.",
        "sadness",
    ),
    (
        "Honestly the week was fine. Work was busy but nothing unusual, I finished the "
        "quarterly report, the team lunch was nice, I fixed the wobbly shelf in the hall. "
        "Saturday I took the kids swimming. But I can't stop thinking about what the "
        "doctor said on Monday. A shadow on the X-ray. More tests. Every time I'm alone "
        "my mind goes straight back there and my chest tightens. I haven't told anyone "
        "yet. What if it's serious? What if I have to tell the kids?",
        "fear",
    ),
    (
        "Ayer fue el último día de mi padre en la empresa después de cuarenta años. Le "
        "hicieron una fiesta sorpresa, hubo tarta, discursos y hasta algún chiste malo. Él "
        "se rió mucho, pero cuando volvíamos a casa se quedó callado mirando por la "
        "ventanilla. Me dijo que no sabe qué va a hacer ahora con tantas horas libres. Yo "
        "también me quedé pensando en las mañanas en que me llevaba al colegio antes de ir "
        "a la oficina, con la radio puesta. Qué rápido pasa todo. Parece que fue ayer cuando "
        "yo era la niña que lo esperaba en la puerta.",
        "nostalgia",
    ),
    (
        "Je rentre d'une semaine de randonnée dans les Pyrénées. Les premiers jours, j'avais "
        "mal partout et je me demandais ce que je faisais là. Et puis le troisième matin, au "
        "lever du soleil, on est arrivés au sommet. Une mer de nuages sous nos pieds, les "
        "crêtes qui s'allumaient une à une, un silence immense. Je n'avais jamais rien vu "
        "d'aussi beau. Je me suis sentie toute petite et tellement vivante. J'en ai encore "
        "des frissons quand j'y repense.",
        "awe",
    ),
]
"""First pass 11/18 (module docstring)."""

PROBE: list[tuple[str, str]] = [
    (
        "I've tried to be patient with my flatmate, honestly. When he moved in I was glad of "
        "the company and we had a nice few weeks. But the dishes have been in the sink since "
        "Sunday, there's mould on the bread he never eats, and tonight he had six people over "
        "until 2am on a work night. I asked him nicely, twice. He just shrugged. I'm SO done.",
        "anger",
    ),
    (
        "Biscuit died this morning. He was fourteen, which is old for a beagle, and the vet said "
        "he didn't suffer. We laughed this afternoon remembering how he stole a whole roast "
        "chicken off the counter one Christmas. But the house is so quiet. His bowl is still by "
        "the back door. I keep looking for him when I come into the kitchen.",
        "sadness",
    ),
    (
        "Six years abroad and tonight I finally landed back home. I was a nervous wreck on the "
        "plane, worried it would all feel strange. Then I came through arrivals and my whole "
        "family was there with a banner, my little nephew who I'd only seen on video running "
        "at me. I cried, they cried, my dad pretended he wasn't crying. We ate my mum's soup "
        "at midnight and talked until three. I'm home.",
        "joy",
    ),
    (
        "It's 2am and my son still isn't home. He said he'd be back by eleven. His phone goes "
        "straight to voicemail. I've called his friends and nobody has seen him since the "
        "party. I keep telling myself he's just lost track of time, he's seventeen, this is "
        "normal. But I can't sit down. I keep going to the window every time a car passes.",
        "fear",
    ),
    (
        "Most mornings now I'm up before the others. I make coffee, open the back door and "
        "sit on the step while the garden wakes up. The tomatoes need watering, the cat "
        "wanders over for a scratch, somewhere a neighbour's radio is playing. Last year "
        "this time I was running on four hours of sleep and dreading every email. These "
        "days there's no rush. Just the birds and the steam off the cup.",
        "peace",
    ),
    (
        "I went back to my hometown for the first time in twenty years. The sweet shop is a "
        "phone repair place now and the cinema is flats. But the school still has the same "
        "green gates and I swear the same lollipop lady. I walked the old route home, past "
        "the park where we built dens and the wall we sat on every summer evening. I could "
        "almost hear us shouting.",
        "nostalgia",
    ),
    (
        "The burnout diagnosis came in March and I've been off work since. Everyone says "
        "rest, so I rest. I sit in the garden. I watch TV. Friends visit and I make tea and "
        "nod. I know I should feel relieved, or sad, or something. Mostly I feel like I'm "
        "watching someone else's life through a window. Nothing lands.",
        "detachment",
    ),
    (
        "I almost didn't go. The tickets were expensive, it was raining, I was tired. But when "
        "the orchestra started the Mahler and that first huge chord filled the hall, the "
        "hairs on my arms stood up. By the last movement half the audience was in tears. I "
        "sat there feeling tiny and enormous at the same time. I've never heard anything "
        "like it.",
        "awe",
    ),
]
"""Written after ``PARAGRAPHS`` passed: first pass 3/8."""
THIRD: list[tuple[str, str]] = [
    (
        "We broke up on Sunday. Four years. I keep finding her hair ties everywhere, on the "
        "sofa, in the car, in my coat pocket. Yesterday I laughed out loud at something on TV"
        " and turned to tell her before I remembered. My friends took me out for drinks and "
        "it was fun for an hour. Then I came home to the silent flat. I don't know who I am "
        "without her.",
        "sadness",
    ),
    (
        "Our team hit every target this quarter and I was genuinely proud of everyone. Then "
        "in the all-hands meeting my manager presented the whole project as his own idea. My "
        "name wasn't mentioned once. Afterwards he thanked me for 'helping out'. I smiled and"
        " said nothing because I was shaking. I've spent the evening drafting an email to HR "
        "and deleting it. I am livid.",
        "anger",
    ),
    (
        "I did it. Twenty-six miles. My knees were screaming from mile eighteen and around "
        "mile twenty-two I honestly thought about stopping and crying at the side of the "
        "road. Then I saw my kids holding a sign with my name on it and something took over. "
        "I crossed the line sobbing and laughing at the same time. I have a medal round my "
        "neck and I can't stop grinning.",
        "joy",
    ),
    (
        "Walking home from the station tonight I noticed a man behind me. I crossed the road,"
        " he crossed too. I took the long way past the shops, he was still there. My keys "
        "were between my fingers and my heart was pounding so hard I could hear it. I ran the"
        " last bit and slammed the door and I'm still sitting on the floor in the hall with "
        "the lights off.",
        "fear",
    ),
    (
        "Mum moved in with us in September. Some days are hard; she forgets where she is and "
        "gets upset, and I'm tired in a way I didn't know was possible. But tonight I brushed"
        " her hair the way she used to brush mine, and she hummed an old song and held my "
        "hand. We sat like that until she fell asleep. I'm so glad I get this time with her.",
        "tenderness",
    ),
]
"""Written after the second batch passed: first pass 2/5."""
PROBE += THIRD


@pytest.mark.parametrize(("text", "family"), PROBE)
def test_a_probe_paragraph_reads_as_what_it_is_about(text: str, family: str) -> None:
    reading = analyse_text(text)
    assert PRESETS[reading.primary].family == family, (reading.primary, reading.evidence)


@pytest.mark.parametrize(("text", "family"), PARAGRAPHS)
def test_a_long_text_reads_as_what_it_is_about(text: str, family: str) -> None:
    reading = analyse_text(text)
    assert PRESETS[reading.primary].family == family, (reading.primary, reading.evidence)


def test_a_feeling_repeated_through_a_long_text_outweighs_one_said_once() -> None:
    sentences = [
        "The trip started well and I was happy to see the sea.",
        "Then the rain came and nobody called.",
        "I walked the promenade alone every evening.",
        "I ate alone, I slept alone, I talked to nobody.",
        "The hotel was half empty and so was I.",
        "I felt so alone.",
    ]
    reading = analyse_text(" ".join(sentences * 4))
    assert PRESETS[reading.primary].family == "sadness", (reading.primary, reading.evidence)


def test_a_twenty_thousand_character_text_is_read_whole() -> None:
    filler = "We walked to the shop and back and then we made some dinner. " * 300
    text = (filler + "I am so scared of what the scan will show.")[:20_000]
    assert len(text) <= 20_000
    reading = analyse_text(text)
    assert PRESETS[reading.primary].family == "fear", (reading.primary, reading.evidence)


@pytest.mark.xfail(
    strict=True,
    reason="the arbiter (tenth session) follows the trained reader, which reads the text as a "
    "bag of words (joy: laughing, wonderful, happy); the lexicon's turn still moves its weight "
    "(test_a_turn_moves_the_lexicon_s_weight)",
)
def test_a_turn_moves_the_weight_to_what_follows() -> None:
    text = (
        "I was so happy at the start of the trip, laughing all the way down the coast. We swam "
        "every day. The food was wonderful. Then the phone call came. My father had collapsed. "
        "I flew home that night and sat by his bed until morning, terrified."
    )
    reading = analyse_text(text)
    assert PRESETS[reading.primary].family == "fear", (reading.primary, reading.evidence)


def test_an_aside_at_the_end_does_not_decide() -> None:
    text = (
        "My grandmother died on Tuesday. I keep thinking about her hands, her garden, her "
        "terrible jokes. The funeral is on Friday and I don't know how I'll get through it. "
        "Anyway, the sunset was beautiful tonight and the neighbours brought a lovely cake."
    )
    reading = analyse_text(text)
    assert PRESETS[reading.primary].family == "sadness", (reading.primary, reading.evidence)


def test_a_wait_colours_its_own_sentence_not_the_calm_that_follows() -> None:
    text = (
        "The results came back on Monday and I was a wreck waiting for them. Now it's all fine. "
        "I spent the afternoon in the garden with a book, the cat asleep on my feet, the radio "
        "on low. Completely at peace."
    )
    reading = analyse_text(text)
    assert PRESETS[reading.primary].family == "peace", (reading.primary, reading.evidence)


@pytest.mark.parametrize(
    ("text", "family"),
    [
        ("I cried when I saw them all waiting at arrivals.", "joy"),
        ("My brother came home from the army today. I cried so much at the airport.", "joy"),
        ("I cried all through the funeral.", "sadness"),
    ],
)
def test_tears_at_a_homecoming_are_happy_ones(text: str, family: str) -> None:
    reading = analyse_text(text)
    assert PRESETS[reading.primary].family == family, (reading.primary, reading.evidence)


def test_a_turn_moves_the_lexicon_s_weight() -> None:
    text = (
        "I was so happy at the start of the trip, laughing all the way down the coast. We swam "
        "every day. The food was wonderful. Then the phone call came. My father had collapsed. "
        "I flew home that night and sat by his bed until morning, terrified."
    )
    reading = analyse_text(text, reader=None)
    assert PRESETS[reading.primary].family == "fear", (reading.primary, reading.evidence)
