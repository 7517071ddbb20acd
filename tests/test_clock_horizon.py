"""train.fit_to_time_limit: the schedule's end follows the clock (ClockHorizon), and a resumed run counts the time
its earlier part used."""
import json

import pytest
import torch

from mae_core.config import ConfigError, load_config
from mae_core.engine import schedule
from mae_core.engine.schedule import ClockHorizon
from mae_core.engine.trainer import pretrain


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_horizon_follows_the_recent_pace_within_its_cap(monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(schedule.time, "time", clock)
    h = ClockHorizon(budget_s=100.0, step=0, horizon=50, cap=1000, every=10, window=20, margin=1.0)
    assert [s for s in range(1, 31) if h.due(s)] == [10, 20, 30]
    clock.now += 10.0                # 1 s per step: at step 10, 90 s left -> 90 more steps
    assert h.update(10) == 100
    for step in (20, 30):            # the machine slows to 2 s per step: the pace of the last 20 steps counts
        clock.now += 20.0
        h.update(step)
    assert h.spent() == pytest.approx(50.0)
    assert h.horizon == 30 + 50 // 2 and not h.out_of_time()
    clock.now += 60.0
    assert h.out_of_time() and h.update(40) == 41          # out of time: never before the next step
    capped = ClockHorizon(budget_s=1e6, step=0, horizon=5, cap=70, every=10)
    clock.now += 10.0
    assert capped.update(10) == 70
    resumed = ClockHorizon(budget_s=100.0, step=40, horizon=60, cap=1000, spent_s=80.0, every=10, margin=1.0)
    clock.now += 10.0
    assert resumed.update(50) == 50 + 10 and resumed.spent() == pytest.approx(90.0)


def smoke_cfg(data_path, *overrides):
    return load_config("configs/pretrain/smoke.py", [f"data.path={data_path}", "train.log_every=1", *overrides])


def test_a_run_fitted_to_its_time_limit_ends_its_cosine_there_and_resumes_on_the_time_left(fashion_folder, tmp_path):
    # 24 images at batch 4: 6 steps per epoch; the time limit cuts a 500-epoch recipe short; the cosine ends on time
    over = ["train.batch_size=4", "train.epochs=500", "optim.warmup_epochs=1", "train.time_limit_min=0.05",
            "train.fit_to_time_limit=true", "train.vis_every_steps=0"]
    m = pretrain(smoke_cfg(fashion_folder, *over), tmp_path)
    rows = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert 20 < m["step"] < 3000 and m["horizon"] - m["step"] <= 0.05 * m["step"] + 1
    assert rows[-1]["lr"] < 0.1 * max(r["lr"] for r in rows)       # ended near the cosine's end, not mid-schedule
    ck = torch.load(m["checkpoint"], weights_only=False)
    assert 0 < ck["clock"]["spent_s"] and ck["clock"]["horizon"] == m["horizon"]
    again = pretrain(smoke_cfg(fashion_folder, *over), tmp_path)   # a rerun in the folder: the budget is spent
    assert again["step"] - m["step"] <= 1
    with pytest.raises(ConfigError, match="fit_to_time_limit needs train.time_limit_min"):
        smoke_cfg(fashion_folder, "train.fit_to_time_limit=true").validate()
