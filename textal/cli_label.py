"""Label the open batch in the terminal, one review at a time.

Every key is recorded in the ledger at once, so quitting or a crash loses nothing, and the next
session resumes at the first review still open. Review text is untrusted: control and escape
sequences are stripped before it reaches the terminal.
"""

from __future__ import annotations

from collections.abc import Callable

from textal.errors import TextalError
from textal.ledger import AMBIGUOUS, UNLABEL
from textal.textsafe import terminal_safe
from textal.workspace.workspace import Workspace

KEYS_HELP = "s skip · a ambiguous · u undo · q quit"


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
    position = 0
    while position < len(queue):
        selection = queue[position]
        write("")
        write(f"[{position + 1}/{len(queue)}] {terminal_safe(items[selection.item_id].text)}")
        if selection.predicted:
            write(f"  model says: {terminal_safe(selection.predicted)}")
        for near in selection.why:
            label = terminal_safe(near.label)
            write(f"  similar labeled review ({near.similarity:.2f}) was {label}")
        try:
            key = read(f"{choices}  ·  {KEYS_HELP} > ").strip().lower()
        except EOFError:
            key = "q"
        source = "interactive"
        if key == "q":
            break
        if key == "s":
            position += 1
        elif key == "a":
            ws.mark(selection.item_id, AMBIGUOUS, annotator=annotator, source=source)
            done.append(selection.item_id)
            position += 1
        elif key == "u":
            if not done:
                write("nothing to undo")
                continue
            undone = done.pop()
            ws.mark(undone, UNLABEL, annotator=annotator, source=source)
            position = next(i for i, s in enumerate(queue) if s.item_id == undone)
        elif key.isdigit() and 1 <= int(key) <= len(names):
            ws.add_labels(
                [(selection.item_id, names[int(key) - 1])], annotator=annotator, source=source
            )
            done.append(selection.item_id)
            position += 1
        else:
            write(f"unknown key {key!r}")
    write(f"{len(done)} recorded this session; labels are saved as you go")
    return len(done)
