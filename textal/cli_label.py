"""Label the open batch in the terminal, one review at a time.

Every answer is recorded in the ledger at once (through :meth:`Workspace.write_answers`), so
quitting or a crash loses nothing, and the next session resumes at the first review still open.
Review text is untrusted: control and escape sequences are stripped before it reaches the
terminal.

In a multi-label workspace a line of label numbers toggles those labels (``13`` or ``1 3``
toggles the first and the third; with ten labels or more, numbers are separated by spaces; the
toggled set is shown after each line), an empty line (Enter) submits the
toggled set, and ``n`` answers "none of these" (the empty set). Enter with nothing toggled
submits nothing, so a stray Enter never records "none of these".
"""

from __future__ import annotations

from collections.abc import Callable

from textal.errors import TextalError
from textal.ledger import AMBIGUOUS, LABEL, UNLABEL, Answer, LabelValue, Selection
from textal.textsafe import terminal_safe
from textal.workspace.workspace import Workspace

KEYS_HELP = "s skip · a ambiguous · u undo · q quit"
SET_KEYS_HELP = "numbers toggle · Enter submits · n none of these · " + KEYS_HELP
SOURCE = "interactive"


def label_interactively(
    ws: Workspace,
    *,
    annotator: str,
    read: Callable[[str], str] | None = None,
    write: Callable[[str], None] = print,
) -> int:
    """Walk the open batch; returns how many items were labeled or marked this session.

    ``read`` defaults to the builtin ``input`` as it is when called (not when imported).
    """
    read = read or input
    names = list(ws.config.labels)
    if not names:
        raise TextalError(
            f"workspace {ws.path} has no label set: run `textal init --labels a,b,...` first"
        )
    queue = ws.open_batch()
    if not queue:
        write("nothing open: every item of the last batch is labeled (run `textal round`)")
        return 0
    items = {item.id: item for item in ws.store.get([s.item_id for s in queue])}
    choices = "  ".join(f"{k} {terminal_safe(n)}" for k, n in enumerate(names, start=1))
    done: list[str] = []  # items acted on this session, for undo

    def record(item_id: str, label: LabelValue | None, kind: str) -> None:
        ws.write_answers([Answer(item_id, label, kind, annotator, SOURCE)])

    position = 0
    while position < len(queue):
        selection = queue[position]
        write("")
        write(f"[{position + 1}/{len(queue)}] {terminal_safe(items[selection.item_id].text)}")
        _show_model(selection, ws.multi_label, write)
        answer: LabelValue | None
        if ws.multi_label:
            key, answer = _read_set(names, read, write)
        else:
            key, answer = _read_key(f"{choices}  ·  {KEYS_HELP}  (key, then Enter) > ", read), None
            if key.isdigit() and 1 <= int(key) <= len(names):
                answer = names[int(key) - 1]
        if key == "q":
            break
        if answer is not None:
            record(selection.item_id, answer, LABEL)
            done.append(selection.item_id)
            position += 1
        elif key == "s":
            position += 1
        elif key == "a":
            record(selection.item_id, None, AMBIGUOUS)
            done.append(selection.item_id)
            position += 1
        elif key == "u":
            if not done:
                write("nothing to undo")
                continue
            undone = done.pop()
            record(undone, None, UNLABEL)
            position = next(i for i, s in enumerate(queue) if s.item_id == undone)
        elif not ws.multi_label:
            write(f"unknown key {key!r}")
    write(f"{len(done)} recorded this session; labels are saved as you go")
    return len(done)


def _read_key(prompt: str, read: Callable[[str], str]) -> str:
    try:
        return read(prompt).strip().lower()
    except EOFError:
        return "q"


def _show_model(selection: Selection, multi_label: bool, write: Callable[[str], None]) -> None:
    if multi_label and selection.probabilities:
        predicted = terminal_safe(selection.predicted or "") or "none of these"
        each = ", ".join(
            f"{terminal_safe(c.label)} {c.probability:.2f}" for c in selection.probabilities
        )
        write(f"  model says: {predicted} ({each})")
    elif selection.predicted:
        write(f"  model says: {terminal_safe(selection.predicted)}")
    for near in selection.why:
        label = terminal_safe(near.label) or "none of these"
        write(f"  similar labeled review ({near.similarity:.2f}) was {label}")


def _read_set(
    names: list[str], read: Callable[[str], str], write: Callable[[str], None]
) -> tuple[str, frozenset[str] | None]:
    """Toggle labels until Enter (the toggled set) or ``n`` (the empty set); another key
    (skip, ambiguous, undo, quit) is returned with no set."""
    toggled: set[int] = set()
    while True:
        boxes = "  ".join(
            f"[{'x' if k in toggled else ' '}] {k} {terminal_safe(n)}"
            for k, n in enumerate(names, start=1)
        )
        key = _read_key(f"{boxes}  ·  {SET_KEYS_HELP} > ", read)
        if key == "":
            if toggled:
                return key, frozenset(names[k - 1] for k in toggled)
            write("nothing toggled: type label numbers, or n for none of these")
        elif key == "n":
            return key, frozenset()
        elif (numbers := _numbers(key, len(names))) is not None:
            toggled ^= numbers
        elif key in ("s", "a", "u", "q"):
            return key, None
        else:
            write(f"unknown key {key!r}")


def _numbers(key: str, count: int) -> set[int] | None:
    """The label numbers a line names (``None`` unless every one is a label's)."""
    tokens = key.replace(",", " ").split()
    if len(tokens) == 1 and count <= 9:
        tokens = list(tokens[0])
    if not tokens or not all(t.isdigit() and 1 <= int(t) <= count for t in tokens):
        return None
    return {int(t) for t in tokens}
