"""The learnable-dynamics study runs end to end and reports what it measured."""

import math

from neuraltide.experiments.learnable_dynamics import TASKS, run, table


def test_study_trains_both_neurons_and_reports_learned_time_constants() -> None:
    task = TASKS["delayed cue"]
    fixed = run(task, "fixed LIF", seed=0, epochs=1)
    learned = run(task, "learnable", seed=0, epochs=1)
    assert all(t == fixed.tau[0][0] for t in fixed.tau[0])  # LIF keeps beta = 0.9
    assert abs(fixed.tau[0][0] + 1 / math.log(0.9)) < 1e-4  # tau = -1/ln(beta) = 9.49 steps
    spread = max(learned.tau[0]) - min(learned.tau[0])
    assert spread > 1.0  # per-neuron time constants, initialised spread out and trained
    for r in (fixed, learned):
        assert 0.0 <= r.accuracy <= 1.0 and 0.0 < r.rate < 1.0 and r.seconds > 0
    text = table([fixed, learned])
    assert "| delayed cue | fixed LIF |" in text and "| delayed cue | learnable |" in text
