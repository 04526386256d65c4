"""Simulation: the round of ``textal round`` driven by an oracle that reveals gold labels.

``dataset`` embeds a labeled pool and a test set once per model (cached in the workspace),
``oracle`` runs the learning curves, ``metrics`` scores them, ``report`` writes the summary, the
points and the plot, and ``cli`` is ``python -m textal simulate``.
"""
