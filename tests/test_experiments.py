"""The learnable-dynamics study runs end to end and reports what it measured."""

import json
import math

import pytest
import torch

from neuraltide.experiments.learnable_dynamics import KINDS, TASKS, main, run, table


@pytest.fixture(autouse=True)
def one_thread():
    """Small tensors stepped 100 times: a second thread only waits, and on a busy machine its
    spinning makes these runs several times slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_study_trains_every_kind_and_reports_time_constants_per_layer() -> None:
    task = TASKS["delayed cue"]
    results = {kind: run(task, kind, seed=0, epochs=1) for kind in KINDS}
    fixed, slow = results["fixed LIF"], results["fixed LIF (slow)"]
    frozen, learned = results["learnable (frozen)"], results["learnable"]
    for r in results.values():
        assert len(r.tau) == 2 and all(len(layer) == 64 for layer in r.tau)  # 2 layers of 64
        assert 0.0 <= r.accuracy <= 1.0 and 0.0 < r.rate < 1.0 and r.seconds > 0
        assert len(r.history) == 1 and 0.0 <= r.history[0] <= 1.0
    # fixed neurons keep tau = -1/ln(beta): 9.49 steps (beta 0.9) and 199.5 steps (0.995)
    for r, beta in ((fixed, 0.9), (slow, 0.995), (frozen, 0.9)):
        assert all(abs(t + 1 / math.log(beta)) < 1e-3 * t for layer in r.tau for t in layer)
    assert fixed.tau_syn == [[], []] and fixed.tau_adapt == [[], []]  # LIF has neither state
    assert all(abs(t + 1 / math.log(0.8)) < 1e-4 for t in frozen.tau_syn[1])
    # learned: every neuron starts at LIF's 9.49 steps and moves on its own
    for layer in learned.tau + learned.tau_syn + learned.tau_adapt:
        assert len(layer) == 64 and max(layer) - min(layer) > 1e-3
    assert max(abs(t + 1 / math.log(0.9)) for t in learned.tau[0]) > 0.05
    text = table(list(results.values()))
    for kind in KINDS:
        assert f"| delayed cue | {kind} |" in text
    assert text.count("(") >= 2 * len(KINDS)  # a median (quartiles) entry per layer


def test_learned_dynamics_carry_the_cue_across_the_delay_that_lif_forgets() -> None:
    # no recurrence: the cue crosses the 50-step delay only in the neurons' state, which a
    # tau of 9.5 steps loses (0.9**50 < 0.01); learning the time constants recovers it
    task = TASKS["delayed cue"]
    fixed = run(task, "fixed LIF", seed=0, epochs=20)
    learned = run(task, "learnable", seed=0, epochs=20)
    assert fixed.accuracy < 0.5 < learned.accuracy - 0.2
    assert max(max(layer) for layer in learned.tau) > 1.5 / -math.log(0.9)  # some slower


def test_cli_prints_the_table_and_writes_every_run(tmp_path, capsys) -> None:
    out = tmp_path / "runs.json"
    main(["--seeds", "1", "--quick", "--json", str(out)])
    text = capsys.readouterr().out
    runs = json.loads(out.read_text())
    assert len(runs) == len(TASKS) * len(KINDS)
    assert {(r["task"], r["kind"]) for r in runs} == {(t, k) for t in TASKS for k in KINDS}
    assert all(len(r["history"]) == 2 for r in runs)
    assert text.count("\n| ") == 1 + len(runs)  # header and one row per task and kind
    with pytest.raises(SystemExit):
        main(["--seeds", "0"])
