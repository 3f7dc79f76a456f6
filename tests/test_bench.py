"""The benchmark suites measure what they say, compare equal work, and report missing peers."""

import itertools
import json
import math
import time

import pytest

from neuraltide.bench import __main__ as bench_main
from neuraltide.bench import lif, stdp
from neuraltide.neurons import Reset


def test_lif_rows_compare_equal_spikes_and_report_missing_peers() -> None:
    missing = lif.Contender("absent peer", lambda T: "missing: not installed")
    chosen = [c for c in lif.CONTENDERS if "compile" not in c.name] + [missing]
    rows = lif.measure(True, sizes=[(20, 2, 16)], contenders=chosen, peak=False)
    names = [r["name"] for r in rows]
    assert names[0] == "NeuralTide (fused kernel)" and names[-1].startswith("bandwidth floor")
    assert names[1:-1] == [c.name for c in chosen]
    for r in rows[:-2]:  # NeuralTide and every installed peer: same spikes, real timings
        assert r["equal"] == 1.0, r["name"]
        assert 0 < r["fwd_ms"] < r["fwd_bwd_ms"] * 10 and r["saved_b"] > 0
        assert math.isnan(r["peak_b"])  # not measured here (peak=False)
    absent = rows[-2]
    assert absent["note"] == "missing: not installed" and math.isnan(absent["fwd_ms"])
    text = lif.table(rows)
    assert "| 20 × 2 × 16 | absent peer: missing: not installed |" in text
    assert text.count("\n") == len(rows) + 3  # stamp, blank, header, rule, one line per row


def test_norse_and_spikingjelly_need_the_reset_before_the_leak() -> None:
    """Their soft reset subtracts before the next leak: with NeuralTide's after-leak reset the
    spikes differ, so the suite compares each peer with the matching convention."""
    pytest.importorskip("norse")
    rows = lif.measure(True, sizes=[(50, 4, 32)], contenders=[
        lif.Contender("norse, wrong reset", lif._norse(True), Reset.SUBTRACT_AFTER_LEAK),
        lif.Contender("norse", lif._norse(True), Reset.SUBTRACT)], peak=False)
    assert rows[1]["equal"] < 1.0 and rows[2]["equal"] == 1.0


def test_fused_kernel_keeps_only_the_input_and_peaks_below_a_third_of_the_scan() -> None:
    """The backward recomputes the forward: autograd keeps x (4 B per neuron-step in float32)
    and a few per-neuron tensors, and one forward + backward in a fresh process grows its
    memory by about one (T, M) tensor, against many for the PyTorch scan."""
    rows = lif.measure(True, sizes=[(100, 32, 256)], contenders=[lif.CONTENDERS[0]])
    fused, scan = rows[0], rows[1]
    assert fused["name"] == lif.OURS and scan["name"] == "NeuralTide, PyTorch scan"
    assert 4.0 <= fused["saved_b"] < 4.5
    assert 0 < fused["peak_b"] < scan["peak_b"] / 3, (fused["peak_b"], scan["peak_b"])
    floor = rows[2]
    assert floor["fwd_ms"] < floor["fwd_bwd_ms"]  # twice the bytes of the forward alone


def test_floor_is_timed_in_turn_with_neuraltides_row() -> None:
    """The target is a ratio to the floor: the two are timed in alternating rounds, so a
    drift of the machine's speed reaches both (the medians keep each function apart)."""
    calls: list[str] = []

    def fast() -> None:
        calls.append("fast")

    def slow() -> None:
        calls.append("slow")
        time.sleep(2e-4)

    t_fast, t_slow = lif._medians([fast, slow], 0.05, lif.ROUNDS)
    switches = sum(a != b for a, b in itertools.pairwise(calls))
    assert calls[0] == "fast" and switches == 2 * lif.ROUNDS - 1
    assert 0 < t_fast < 1e-4 < 2e-4 <= t_slow


def test_memory_table_shows_what_learned_parameters_cost_the_scan() -> None:
    rows = {r["model"]: r for r in lif.memory((100, 4, 64))}
    assert set(rows) == set(lif.MODELS)
    for r in rows.values():  # fused: the input and a few per-neuron tensors, whatever is learned
        assert 4.0 <= r["auto"] < 6.0, r
    # autograd through the scan saves operands of every op with a learned parameter
    assert rows["LearnableNeuron (all learned)"]["torch"] > 3 * rows["LIF"]["torch"]
    text = lif.memory_table(list(rows.values()))
    assert text.count("\n") == len(rows) + 1 and "| LIF | " in text


def test_stdp_suite_reports_rates_and_weight_fractions() -> None:
    r = stdp.neuraltide_stdp(2.0, compiled=True)
    assert r["seconds"] == 2.0 and r["sim_s"] > 0
    assert 5 < r["rate_hz"] < 80  # Brian2's example fires at about 35 Hz early on
    assert 0.05 < r["low"] < 0.3 and 0.05 < r["high"] < 0.3  # uniform start: 0.1 each


def test_json_output_holds_rows_and_markdown(tmp_path, monkeypatch) -> None:
    measure = lif.measure
    monkeypatch.setattr(lif, "measure", lambda quick=False: measure(True,
        sizes=[(5, 1, 4)], contenders=[lif.CONTENDERS[0]], peak=False))
    out = tmp_path / "bench.json"
    bench_main.main(["--suite", "lif", "--json", str(out)])
    data = json.loads(out.read_text())
    section = data["suites"]["lif"]
    assert [r["name"] for r in section["rows"]][:2] == ["NeuralTide (fused kernel)",
                                                        lif.CONTENDERS[0].name]
    assert section["markdown"].startswith("Measured ") and data["machine"]


def test_stamp_names_the_cpu_model() -> None:
    """Shared machines change CPU between runs (and every ratio with it): the stamp says
    which one, as /proc/cpuinfo names it where there is one."""
    from neuraltide.bench import _common

    name = _common.cpu_name()
    assert name and name in _common.stamp()
    try:
        with open("/proc/cpuinfo") as f:
            models = [ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")]
    except OSError:
        models = []
    if models:
        assert name.startswith(models[0])
