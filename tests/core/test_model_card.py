"""The model card page: what it says about a model's weak spots."""

from audiofuse_core.model_card import render_model_card


def _meta(per_subset):
    return {"name": "m", "validation": {"overall": _subset(0.93, n=100, n_abnormal=30),
                                        "per_subset": per_subset}}


def _subset(auc, n=40, n_abnormal=10):
    others = dict.fromkeys(("mcc", "f1_abnormal", "sensitivity", "specificity",
                            "balanced_accuracy", "accuracy"), 0.5)
    return {"n": n, "n_abnormal": n_abnormal, "roc_auc": auc, "roc_auc_low": auc - 0.1,
            "roc_auc_high": min(1.0, auc + 0.1), **others}


def test_card_names_the_subsets_where_the_model_is_weak():
    card = render_model_card(_meta({"training-a": _subset(0.64), "training-b": _subset(0.91),
                                    "training-c": _subset(0.5, n=6, n_abnormal=3)}))
    assert "(ROC-AUC training-a 0.64 against 0.93)" in card
    assert "training-b 0.91" not in card and "training-c 0.50" not in card  # too few to judge


def test_card_says_nothing_of_weakness_when_every_subset_is_strong():
    card = render_model_card(_meta({"training-a": _subset(0.85)}))
    assert "less well than overall" not in card


def test_card_says_when_the_waveform_input_is_whitened():
    meta = _meta({})
    meta.update(kind="fusion", preset={"name": "default", "waveform_whiten_hz": 20.0})
    assert "Waveform input whitened" in render_model_card(meta)
    meta["preset"]["waveform_whiten_hz"] = 0.0
    assert "whitened" not in render_model_card(meta)
    meta.update(kind="spectrogram", preset={"name": "default", "waveform_whiten_hz": 20.0})
    assert "whitened" not in render_model_card(meta)  # no waveform branch to whiten


def test_card_names_the_figures_the_feature_expert_reads_and_their_limit():
    meta = _meta({})
    meta["feature_expert"] = {"feature_set": "cycle+mel+profile/1", "temperature": 2.0}
    card = render_model_card(meta)
    assert "`cycle+mel+profile/1`" in card and "the median heart cycle's shape" in card
    assert "misled on the third (training-f" in card  # the left-out subset where it failed
    meta["feature_expert"]["feature_set"] = "cycle+mel/1"  # a model made before the profile
    card = render_model_card(meta)
    assert "heart cycle's shape" not in card and "misled" not in card
    assert "the average spectrum" in card
