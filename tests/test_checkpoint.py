"""Tests of course_utils.checkpoint: a run resumed with train.fit equals an uninterrupted one; bad files fail clearly."""
import random

import numpy as np
import pytest
import torch
from torch import nn

from course_utils import checkpoint as C
from course_utils import schedules as S
from course_utils.train import fit


def tiny_model(seed=0):
    torch.manual_seed(seed)
    # dropout makes the run depend on the global torch RNG, which must be restored too
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 3))


SETUPS = {
    "sgd+onecycle": (lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9),
                     lambda o: S.make_scheduler("onecycle", o, max_lr=0.2, total_steps=6 * 6)),
    "adam+plateau": (lambda p: torch.optim.Adam(p, lr=1e-2),
                     lambda o: S.make_scheduler("plateau", o, factor=0.5, patience=0)),
    "sgd+inverse": (lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True),
                    lambda o: S.make_scheduler("inverse", o, k=0.3)),
    "adamw+exponential": (lambda p: torch.optim.AdamW(p, lr=1e-2),
                          lambda o: S.make_scheduler("exponential", o, gamma=0.8)),
}


def _fresh(setup, seed=0):
    opt_fn, sched_fn = SETUPS[setup]
    model = tiny_model(seed)
    opt = opt_fn(model.parameters())
    return model, opt, sched_fn(opt), torch.Generator().manual_seed(123)


@pytest.mark.parametrize("setup", list(SETUPS))
def test_resumed_run_equals_uninterrupted_run(setup, tmp_path, make_tiny_data):
    data = make_tiny_data(96, 32)
    kw = dict(batch_size=16)
    # uninterrupted: 6 epochs
    torch.manual_seed(7)
    m0, o0, s0, g0 = _fresh(setup)
    h0 = fit(m0, o0, data, epochs=6, generator=g0, scheduler=s0, **kw)
    # interrupted after 2 epochs, saved, then resumed in fresh objects (other init, other RNG state)
    torch.manual_seed(7)
    m1, o1, s1, g1 = _fresh(setup)
    h1 = fit(m1, o1, data, epochs=2, generator=g1, scheduler=s1, **kw)
    path = C.save_checkpoint(tmp_path / "ck.pt", m1, o1, s1, epoch=2, generator=g1, extra={"history": h1.to_dict()})
    torch.manual_seed(999)
    np.random.seed(1)
    random.seed(1)
    m2, o2, s2, g2 = _fresh(setup, seed=5)
    g2.manual_seed(5)
    meta = C.load_checkpoint(path, m2, o2, s2, generator=g2)
    assert meta["epoch"] == 2 and meta["extra"]["history"]["val_loss"] == h1.val_loss
    h2 = fit(m2, o2, data, epochs=4, generator=g2, scheduler=s2, start_epoch=2, **kw)
    assert C.max_param_diff(m0, m2) == 0.0  # same operations in the same order on the CPU: bit-identical
    assert h1.val_loss + h2.val_loss == h0.val_loss
    assert h1.lr + h2.lr == h0.lr
    joined = h1.then(h2)
    assert joined.val_loss == h0.val_loss and joined.train_loss == h0.train_loss and joined.epochs == 6
    assert joined.best_epoch == h0.best_epoch and h2.start_epoch == 2


def test_without_generator_state_the_run_differs(tmp_path, make_tiny_data):
    """The shuffling generator is part of the state: dropping it changes the resumed run."""
    data = make_tiny_data(96, 32)
    torch.manual_seed(7)
    m0, o0, s0, g0 = _fresh("sgd+inverse")
    fit(m0, o0, data, epochs=4, batch_size=16, generator=g0, scheduler=s0)
    torch.manual_seed(7)
    m1, o1, s1, g1 = _fresh("sgd+inverse")
    fit(m1, o1, data, epochs=2, batch_size=16, generator=g1, scheduler=s1)
    C.save_checkpoint(tmp_path / "ck.pt", m1, o1, s1, epoch=2, generator=g1)
    m2, o2, s2, g2 = _fresh("sgd+inverse")
    C.load_checkpoint(tmp_path / "ck.pt", m2, o2, s2)  # generator not restored: g2 starts from seed 123
    fit(m2, o2, data, epochs=2, batch_size=16, generator=g2, scheduler=s2)
    assert C.max_param_diff(m0, m2) > 1e-4


def test_rng_state_round_trip():
    g = torch.Generator().manual_seed(3)
    st = C.rng_state(g)
    a = (torch.rand(3), np.random.rand(3), random.random(), torch.rand(2, generator=g))
    C.set_rng_state(st, g)
    b = (torch.rand(3), np.random.rand(3), random.random(), torch.rand(2, generator=g))
    assert torch.equal(a[0], b[0]) and np.array_equal(a[1], b[1]) and a[2] == b[2] and torch.equal(a[3], b[3])


# ----------------------------------------------------------------------------- bad files and mismatches
@pytest.fixture
def saved(tmp_path):
    m, o, s, g = _fresh("sgd+onecycle")
    return C.save_checkpoint(tmp_path / "ck.pt", m, o, s, epoch=1, generator=g)


def test_truncated_checkpoint_raises_checkpoint_error(saved):
    raw = saved.read_bytes()
    saved.write_bytes(raw[: len(raw) // 2])
    m, o, s, g = _fresh("sgd+onecycle")
    with pytest.raises(C.CheckpointError, match="not a readable checkpoint"):
        C.load_checkpoint(saved, m, o, s, generator=g)


def test_garbage_file_raises_checkpoint_error(tmp_path):
    p = tmp_path / "junk.pt"
    p.write_bytes(b"this is not a checkpoint" * 10)
    with pytest.raises(C.CheckpointError, match="corrupt"):
        C.load_checkpoint(p, tiny_model())


def test_foreign_torch_file_raises_checkpoint_error(tmp_path):
    p = tmp_path / "weights.pt"
    torch.save(tiny_model().state_dict(), p)
    with pytest.raises(C.CheckpointError, match="not a course_utils checkpoint"):
        C.load_checkpoint(p, tiny_model())


def test_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="No checkpoint"):
        C.load_checkpoint(tmp_path / "nope.pt", tiny_model())


def test_other_architecture_raises_and_leaves_model_untouched(saved):
    other = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Dropout(0.2), nn.Linear(32, 3))
    before = {k: v.clone() for k, v in other.state_dict().items()}
    with pytest.raises(C.CheckpointError, match="does not fit.*different shapes"):
        C.load_checkpoint(saved, other)
    assert all(torch.equal(before[k], v) for k, v in other.state_dict().items())


def test_other_optimizer_or_scheduler_class_raises(saved):
    m = tiny_model()
    with pytest.raises(C.CheckpointError, match="same optimizer class"):
        C.load_checkpoint(saved, m, torch.optim.Adam(m.parameters()))
    o = torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9)
    with pytest.raises(C.CheckpointError, match="same scheduler class"):
        C.load_checkpoint(saved, m, o, S.make_scheduler("cosine", o, T_max=3))


def test_optimizer_over_other_groups_raises(saved):
    m = tiny_model()
    o = torch.optim.SGD([{"params": list(m.parameters())[:2]}, {"params": list(m.parameters())[2:]}], lr=0.1,
                        momentum=0.9)
    with pytest.raises(C.CheckpointError, match="parameter groups"):
        C.load_checkpoint(saved, m, o)


def test_failed_save_keeps_previous_checkpoint(saved):
    before = saved.read_bytes()
    m, o, s, g = _fresh("sgd+onecycle")
    with pytest.raises(Exception):
        C.save_checkpoint(saved, m, o, s, epoch=2, extra={"bad": lambda: 0})  # a lambda cannot be pickled
    assert saved.read_bytes() == before
    assert C.load_checkpoint(saved, *_fresh("sgd+onecycle")[:3])["epoch"] == 1


def test_bad_epoch_argument(tmp_path):
    with pytest.raises(ValueError, match="completed epochs"):
        C.save_checkpoint(tmp_path / "x.pt", tiny_model(), epoch=-1)
