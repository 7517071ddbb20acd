"""The one linear probe (solvers lbfgs / fast on cached features, the solver named in every result), the one k-NN, and
the one result-table module."""
import json
import logging

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from mae_core.models.vit import create_vit
from transfer.classification.knn import knn_predict
from transfer.classification.probe import ProbeOptions, fit_probe, linear_probe
from transfer.studies import tables
from transfer.studies.probe_eval import evaluate_encoder


def blobs(n: int = 300, classes: int = 3, dim: int = 8, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    centers = torch.randn(classes, dim, generator=g) * 4
    y = torch.arange(n) % classes
    return centers[y] + torch.randn(n, dim, generator=g), y


def test_knn_votes_are_temperature_weighted():
    # query along x; two class-0 neighbours at 60 degrees, one class-1 neighbour at 10 degrees
    ang = torch.tensor([1.047, -1.047, 0.1745])
    bank, labels = torch.stack([ang.cos(), ang.sin()], 1), torch.tensor([0, 0, 1])
    q = torch.tensor([[1.0, 0.0]])
    sharp, flat = knn_predict(bank, labels, q, 2, k=3, temperature=0.07), knn_predict(bank, labels, q, 2, k=3,
                                                                                       temperature=100.0)
    assert sharp.argmax(1).item() == 1 and flat.argmax(1).item() == 0        # the temperature decides the vote
    expect0 = 2 * (ang[0].cos() / 0.07).exp()                                 # sum of exp(sim / T)
    assert sharp[0, 0] == pytest.approx(expect0.item(), rel=1e-3)
    assert knn_predict(bank, labels, q, 2, k=1).argmax(1).item() == 1
    with pytest.raises(ValueError, match="k=4"):
        knn_predict(bank, labels, q, 2, k=4)


def test_lbfgs_probe_names_its_solver_chooses_wd_on_heldout_and_is_scale_invariant():
    # the label is feature 0 minus feature 1 (a shared noise): a strong L2 penalty leaves only the class-mean
    # direction (feature 0 alone, ~65%), a weak one finds the difference; the held-out part must pick the weak one
    g = torch.Generator().manual_seed(0)
    yc = torch.arange(400) % 2
    shared = 3 * torch.randn(400, generator=g)
    xc = torch.stack([2.0 * yc - 1 + shared, shared, torch.randn(400, generator=g)], 1)
    m, cm, _ = linear_probe(xc[:300], yc[:300], xc[300:], yc[300:], ProbeOptions("lbfgs", weight_decays=(10.0, 1e-4)))
    assert m["solver"] == "lbfgs" and m["weight_decay"] == 1e-4 and m["top1"] > 97.0 and cm.sum() == 100
    assert m["heldout_top1_by_weight_decay"]["10"] < 80.0 < m["heldout_top1_by_weight_decay"]["0.0001"]
    x, y = blobs()
    m, cm, clf = linear_probe(x[:200], y[:200], x[200:], y[200:], ProbeOptions("lbfgs", weight_decays=(1e-4,)))
    assert m["top1"] == 100.0 and cm.trace() == 100 and m["num_samples"] == 100
    scaled = x * torch.tensor([1e4] + [1.0] * 7)      # standardisation: a feature's unit does not matter
    m2 = linear_probe(scaled[:200], y[:200], scaled[200:], y[200:], ProbeOptions("lbfgs", weight_decays=(1e-4,)))[0]
    assert m2["top1"] == 100.0
    # the fitted classifier carries its standardisation: reloading its state gives the same logits
    clone = fit_probe(x[:20], y[:20], 3, ProbeOptions("lbfgs", weight_decays=(1.0,), max_iter=1))[0]
    clone.load_state_dict(clf.state_dict())
    assert torch.equal(clone(x[200:]), clf(x[200:]))


def test_lbfgs_probe_runs_to_convergence_and_warns_when_stopped_before(caplog):
    # overlapping classes in 64 dimensions at a weak decay: a few L-BFGS iterations are far from the optimum; the
    # probe runs until every gradient entry is below the tolerance, so a larger iteration cap changes nothing
    x, y = blobs(n=2000, classes=5, dim=64, seed=1)
    x = x + 6 * torch.randn(2000, 64, generator=torch.Generator().manual_seed(2))
    tr, te = slice(0, 1500), slice(1500, None)
    opts = ProbeOptions("lbfgs", weight_decays=(1e-2, 1e-5))
    m, _, clf = linear_probe(x[tr], y[tr], x[te], y[te], opts)
    assert m["lbfgs_max_grad"] <= opts.tolerance_grad and 1 < m["lbfgs_iterations"] < opts.max_iter
    more = ProbeOptions("lbfgs", weight_decays=(1e-2, 1e-5), max_iter=4 * opts.max_iter)
    m_more, _, clf_more = linear_probe(x[tr], y[tr], x[te], y[te], more)
    assert m_more["top1"] == m["top1"] and m_more["lbfgs_iterations"] == m["lbfgs_iterations"]
    assert torch.allclose(clf_more[1].weight, clf[1].weight)
    with caplog.at_level(logging.WARNING, logger="transfer.classification.probe"):
        capped = linear_probe(x[tr], y[tr], x[te], y[te], ProbeOptions("lbfgs", weight_decays=(1e-5,), max_iter=3))[0]
    assert capped["lbfgs_iterations"] == 3 and capped["lbfgs_max_grad"] > opts.tolerance_grad
    assert "before converging" in caplog.text and "tolerance_grad" in caplog.text
    with pytest.raises(ValueError, match="tolerance_grad"):
        linear_probe(x[tr], y[tr], x[te], y[te], ProbeOptions("lbfgs", tolerance_grad=0.0))


def test_fast_probe_names_its_solver_and_the_blr_it_chose():
    # LARS moves a weight by lr * 0.001 of its norm per step: a few steps need a large lr to leave the init
    x, y = blobs(400)
    m = linear_probe(x[:300], y[:300], x[300:], y[300:],
                     ProbeOptions("fast", blrs=(1e-5, 100.0), epochs=30, batch_size=64, warmup_epochs=1))[0]
    assert m["solver"] == "fast" and m["blr"] == pytest.approx(100.0) and set(m["heldout_top1_by_blr"]) == {"1e-05", "100"}
    assert m["top1"] > 95.0 and m["heldout_top1_by_blr"]["1e-05"] < 50.0
    with pytest.raises(ValueError, match="run_linprobe"):
        fit_probe(x, y, 3, ProbeOptions("full"))
    with pytest.raises(ValueError, match="val_fraction"):
        fit_probe(x, y, 3, ProbeOptions("lbfgs", val_fraction=1.0))


def test_probe_and_knn_of_an_encoder_see_the_image_classes():
    torch.manual_seed(0)
    y = torch.arange(60) % 2
    x = torch.randn(60, 3, 32, 32) * 0.1 + y[:, None, None, None] * 2.0     # two very different image classes
    tr = DataLoader(TensorDataset(x[:40], y[:40]), batch_size=16)
    te = DataLoader(TensorDataset(x[40:], y[40:]), batch_size=16)
    out = evaluate_encoder(create_vit("vit_micro_patch4"), tr, te)
    assert out["cls"] == {"linear": 100.0, "knn": 100.0, "solver": "lbfgs"}
    assert out["avg"]["solver"] == "lbfgs" and out["avg"]["linear"] == 100.0
    flipped = DataLoader(TensorDataset(x[40:], 1 - y[40:]), batch_size=16)          # test labels swapped
    swapped = evaluate_encoder(create_vit("vit_micro_patch4"), tr, flipped)["cls"]
    assert swapped["knn"] == 0.0 and swapped["linear"] == 0.0     # fitted on the training labels only


def test_tables_mean_std_difference_rows_and_files(tmp_path):
    assert tables.stat([80.0, None, 84.0]) == {"mean": 82.0, "std": pytest.approx(2.83, abs=0.01), "n": 2,
                                               "values": [80.0, 84.0]}
    assert tables.stat([None]) is None and tables.stat([5.0])["std"] is None
    cols = [{"key": "top1", "name": "top-1"}, {"key": "ap", "name": "AP"}]
    per_seed = []
    for a, b in [(80.0, 82.0), (84.0, 82.0)]:
        rows = [{"label": "pixel", "top1": a, "ap": None}, {"label": "token", "top1": b, "ap": 3.0}]
        rows.append(tables.difference_row(rows[1], rows[0], ["top1", "ap"], label="token - pixel"))
        per_seed.append({"columns": cols, "rows": rows})
    assert per_seed[0]["rows"][2] == {"label": "token - pixel", "signed": True, "top1": 2.0, "ap": None}
    merged = tables.merge_seed_tables(per_seed)
    assert merged[2]["top1"]["values"] == [2.0, -2.0] and merged[2]["top1"]["mean"] == 0.0   # per seed first
    assert merged[0]["ap"] is None and merged[1]["ap"] == {"mean": 3.0, "std": 0.0, "n": 2, "values": [3.0, 3.0]}
    md = tables.markdown(cols, merged, label_header="target", note="small scale")
    assert "| pixel | 82.0 ± 2.8 | - |" in md and "| token - pixel | +0.0 ± 2.8 | - |" in md
    assert md.splitlines()[:2] == ["| target | top-1 | AP |", "| --- | ---: | ---: |"] and "small scale" in md
    runs = [{"row": "b", "ft": 1.0}, {"row": "a", "ft": 2.0}, {"row": "a", "ft": 4.0}]
    grouped = tables.group_runs(runs, "row", ["ft"], order=["a", "b", "c"])
    assert [g["row"] for g in grouped] == ["a", "b"] and grouped[0]["ft"]["mean"] == 3.0 and grouped[0]["seeds"] == 2
    j, m = tables.write_table(tmp_path / "t", "table", {"rows": merged}, md)
    assert json.loads(j.read_text())["rows"][2]["signed"] is True and m.read_text() == md
    with pytest.raises(ValueError, match="rows or columns"):
        tables.merge_seed_tables([per_seed[0], {"columns": cols, "rows": per_seed[0]["rows"][:2]}])
