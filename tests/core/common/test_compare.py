"""Label frames compared field by field after normalisation."""

import pandas as pd
import pytest

from distill_assets.core.common.compare import disagreement_rate
from tests.label_frames import GOOD


def test_disagreement_rate():
    a = pd.DataFrame([{"id": "1", **GOOD}, {"id": "2", **GOOD}, {"id": "3", **GOOD}])
    b = a.copy()
    b.loc[1, "name"] = "别人"
    b.loc[2, "phone"] = "+86 23204753945"  # same after normalisation
    assert disagreement_rate(a, b) == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="share no id"):
        disagreement_rate(a, b.assign(id=["x", "y", "z"]))
