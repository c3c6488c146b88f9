"""Tests of the Part I additions to course_utils.theory (depth sweep backward curves, ReLU log drift)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from course_utils import theory


def test_gaussian_moments_work_under_no_grad():
    # theory.depth_sweep runs under torch.no_grad(); the exact moments take f' from autograd.
    with torch.no_grad():
        m_f, m_df = theory.gaussian_moments("tanh", 1.0)
    assert m_f == pytest.approx(theory.gaussian_moments("tanh", 1.0)[0], rel=1e-12)
    assert 0.4 < m_df < 0.7
