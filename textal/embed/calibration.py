"""Texts that calibrate static int8 quantisation: the activation ranges an export is fixed to.

Built in rather than taken from the data being ingested: an export is made once per (model,
backend) and shared by every workspace through the cache, so its vectors must not depend on which
data happened to come first; and nothing may be downloaded. The sentences are generic English of
many kinds (opinions of products, films and services, news, questions, instructions, technical
and casual text), short and long; joined runs of them stand for long reviews up to the model's
token limit, whose activation ranges short texts alone would not show.
"""

from __future__ import annotations

SENTENCES: tuple[str, ...] = (
    "The battery lasts all day and the screen is bright enough to read outside.",
    "It broke after two weeks and the seller never answered my emails.",
    "Great value for the price.",
    "I would not buy this again.",
    "The film drags in the middle, but the last half hour is worth the wait.",
    "A warm, funny and surprisingly moving story about a family that cannot stop arguing.",
    "The acting is wooden and the plot makes no sense at all.",
    "One of the best performances of the year.",
    "Our waiter was friendly, although the soup arrived cold and the bread was stale.",
    "The hotel room was clean, quiet and much larger than the photos suggested.",
    "Delivery took three weeks longer than promised.",
    "Customer service replaced the faulty charger within a day, no questions asked.",
    "The city council approved a new budget for road repairs on Tuesday evening.",
    "Heavy rain is expected across the northern region until the end of the week.",
    "Shares of the company fell sharply after it reported lower quarterly earnings.",
    "The team won the championship in overtime after trailing for most of the game.",
    "Scientists have found traces of water in samples returned from the asteroid.",
    "The minister resigned following weeks of criticism over the failed project.",
    "What is the capital of Australia?",
    "How many people live in the largest city of Brazil?",
    "Who wrote the novel that the movie was based on?",
    "Why does the sky look blue during the day and red at sunset?",
    "When did the first train run between the two cities?",
    "Can I return an item if I have already opened the box?",
    "Preheat the oven, then bake the bread for forty minutes until golden.",
    "Unplug the device before you clean it with a soft, dry cloth.",
    "Press and hold the power button for ten seconds to reset the router.",
    "Fill in the form and send it back before the end of the month.",
    "The function returns an empty list when the input file has no rows.",
    "Restart the server after changing the configuration, or the new settings are ignored.",
    "Memory usage grows with the number of open connections.",
    "The update fixed the crash, but the app still takes a long time to start.",
    "lol that was the worst meeting ever",
    "thanks so much, see you tomorrow!",
    "not sure what to think about it tbh",
    "ok.",
    "Absolutely terrible.",
    "Perfect!",
    "The sound quality is fine for podcasts but too thin for music.",
    "Setup was easy, though the instructions were printed in tiny letters.",
    "Four stars: comfortable shoes that run a little small, so order a size up.",
    "The keyboard feels cheap and two keys stopped working within a month.",
    "I have used this blender every morning for a year and it still works like new.",
    "Neither the story nor the characters ever come to life.",
    "It is a slow, beautiful documentary that rewards patience.",
    "The sequel repeats every joke of the first film and none of them land.",
    "The museum is free on Sundays, so expect long queues at the entrance.",
    "Parking was impossible and the staff seemed overwhelmed by the crowd.",
    "The new policy requires all employees to complete the safety training by June.",
    "Researchers measured how quickly the ice melted under different temperatures.",
    "Prices of fresh vegetables rose again this month because of the drought.",
    "The airline cancelled dozens of flights after a computer failure at its main hub.",
    "She spent ten years studying the language before moving to the country.",
    "The bridge will be closed for repairs between midnight and five in the morning.",
    "My order arrived damaged, the box was crushed and the glass inside had cracked.",
    "Honestly, I expected more from such an expensive brand.",
    "A solid, dependable car with low running costs and a surprisingly roomy boot.",
    "The course explains difficult ideas clearly, with good exercises after each chapter.",
    "Too long, too loud, and far too pleased with itself.",
    "The children loved it, and so did we.",
)

_RUN = 12  # sentences per joined passage: about 200 tokens, near MiniLM's 256


def calibration_texts() -> list[str]:
    """Every sentence alone, then passages of ``_RUN`` consecutive sentences (wrapping around)."""
    n = len(SENTENCES)
    passages = [
        " ".join(SENTENCES[(start + k) % n] for k in range(_RUN)) for start in range(0, n, 3)
    ]
    return [*SENTENCES, *passages]
