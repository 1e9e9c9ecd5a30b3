"""The demo's project: a 4-class support-ticket classification with generated texts and a gold library.

Pure: a seeded ``random.Random`` in, texts and their true classes out. The truth is only known to
the simulation (it plays people who read the text); Label Studio sees the text alone.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

CONTROL = "intent"
CLASSES = ("billing", "bug", "feature", "account")
# Billing is the most common ticket (two in five), as it often is; the confused annotator's errors
# on it are then the most damaging, and gold shows them soonest.
CLASS_CYCLE = ("billing", "bug", "billing", "feature", "account")
LABEL_CONFIG = f"""<View>
  <Header value="What does the customer want?"/>
  <Text name="text" value="$text"/>
  <Choices name="{CONTROL}" toName="text" choice="single" showInline="true">
    {"".join(f'<Choice value="{c}"/>' for c in CLASSES)}
  </Choices>
</View>"""

_TEMPLATES: dict[str, tuple[str, ...]] = {
    "billing": (
        "I was charged twice for my {plan} plan in {month}.",
        "Can I get a refund for the {plan} subscription I cancelled on {day}?",
        "My invoice for {month} shows the wrong amount.",
        "Why did the price of the {plan} plan go up in {month}?",
        "Please send the {month} invoice with our VAT number on it.",
    ),
    "bug": (
        "The {screen} page crashes when I click {button}.",
        "Export to {fmt} fails with an error since {day}.",
        "The app freezes after I upload a {fmt} file.",
        "Search on the {screen} page returns nothing since {day}.",
        "The {button} button on the {screen} page does nothing.",
    ),
    "feature": (
        "It would be great to export reports as {fmt}.",
        "Please add a dark mode to the {screen} page.",
        "Could you add a {button} button to the {screen} page?",
        "I'd love keyboard shortcuts on the {screen} page.",
        "Will the {plan} plan ever support {fmt} imports?",
    ),
    "account": (
        "I can't log in since I changed my e-mail address on {day}.",
        "How do I add a teammate to our {plan} workspace?",
        "Please delete my account and all my data.",
        "I didn't receive the password reset e-mail on {day}.",
        "How do I move my {plan} workspace to another owner?",
    ),
}
_WORDS: dict[str, tuple[str, ...]] = {
    "plan": ("Basic", "Team", "Pro", "Enterprise"),
    "month": ("January", "February", "March", "April", "May", "June"),
    "day": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday"),
    "screen": ("dashboard", "settings", "billing", "reports", "projects"),
    "button": ("Save", "Share", "Export", "Archive", "Duplicate"),
    "fmt": ("CSV", "PDF", "Excel", "JSON"),
}


@dataclass(frozen=True)
class Ticket:
    text: str
    truth: str


def choice_result(label: str) -> list[dict[str, Any]]:
    """A Label Studio result choosing ``label``."""
    return [{"from_name": CONTROL, "to_name": "text", "type": "choices", "value": {"choices": [label]}}]


def make_tickets(count: int, rng: random.Random, *, numbers: list[int]) -> list[Ticket]:
    """``count`` tickets with classes in the proportions of ``CLASS_CYCLE``, each text unique
    through its ticket number."""
    tickets = []
    for i in range(count):
        truth = CLASS_CYCLE[i % len(CLASS_CYCLE)]
        body = rng.choice(_TEMPLATES[truth]).format(**{k: rng.choice(v) for k, v in _WORDS.items()})
        tickets.append(Ticket(f"Ticket #{numbers[i]}: {body}", truth))
    rng.shuffle(tickets)
    return tickets


def make_demo_data(tasks: int, gold: int, seed: int = 7) -> tuple[list[Ticket], list[Ticket]]:
    """Real tasks and gold items; ticket numbers are drawn from one pool so neither kind stands out."""
    rng = random.Random(seed)
    numbers = rng.sample(range(10_000, 99_999), tasks + gold)
    return make_tickets(tasks, rng, numbers=numbers[:tasks]), make_tickets(gold, rng, numbers=numbers[tasks:])


def gold_export(items: list[Ticket]) -> list[dict[str, Any]]:
    """The gold items as a Label Studio JSON export with one ground-truth annotation each: the input
    ``lsqa gold import`` takes. No task ids: the items are not tasks of the demo project."""
    return [
        {
            "data": {"text": item.text},
            "annotations": [{"ground_truth": True, "result": choice_result(item.truth)}],
        }
        for item in items
    ]
