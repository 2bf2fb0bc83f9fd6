"""The text classifier recipe and its head file: the fit separates what can be separated,
its scores are probabilities, and the file round-trips without pickles."""

from __future__ import annotations

import numpy as np
import pytest

from modelmint.runtime.linear_head import HeadFileError, LinearHead
from modelmint.training.recipes.text_classifier import HeadSettings, fit_head


def clusters(seed: int = 0, per_label: int = 30, dimensions: int = 16):
    """Unit vectors around three well-apart centres."""
    rng = np.random.default_rng(seed)
    centres = np.eye(dimensions)[:3] * 6
    vectors = np.concatenate([c + rng.normal(size=(per_label, dimensions)) for c in centres])
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors, np.repeat(np.arange(3), per_label)


def test_the_fit_separates_three_clusters_and_reports_a_falling_loss():
    vectors, targets = clusters()
    reports = []
    head = fit_head(vectors, targets, ["a", "b", "c"], progress=reports.append)
    assert head is not None and head.labels == ["a", "b", "c"]
    test_vectors, test_targets = clusters(seed=1)
    probabilities = head.probabilities(test_vectors)
    assert np.allclose(probabilities.sum(axis=1), 1.0)
    assert (probabilities.argmax(axis=1) == test_targets).mean() >= 0.95
    assert reports[-1].step == reports[-1].total_steps == 1000
    assert reports[-1].loss < reports[0].loss and reports[-1].accuracy >= 0.95


def test_the_fit_stops_when_told():
    vectors, targets = clusters()
    assert fit_head(vectors, targets, ["a", "b", "c"], stopping=lambda: True) is None


def test_an_unbalanced_set_starts_from_the_label_frequencies():
    vectors, targets = clusters()
    one_step = HeadSettings(epochs=1, learning_rate=0.0, report_every=1)
    head = fit_head(vectors[:40], targets[:40], ["a", "b", "c"], one_step)
    assert head is not None
    prior = head.probabilities(np.zeros((1, vectors.shape[1])))[0]
    assert prior[0] == pytest.approx(30 / 40, abs=1e-6)


def test_the_head_round_trips_through_its_file(tmp_path):
    vectors, targets = clusters()
    head = fit_head(vectors, targets, ["账单", "shipping", "technical"])
    assert head is not None
    path = tmp_path / "head.npz"
    assert head.save(path) > 0
    again = LinearHead.load(path)
    assert again.labels == ["账单", "shipping", "technical"]
    assert np.allclose(again.probabilities(vectors), head.probabilities(vectors), atol=1e-5)


def test_a_file_that_is_not_a_head_is_refused(tmp_path):
    path = tmp_path / "head.npz"
    path.write_bytes(b"not a zip")
    with pytest.raises(HeadFileError):
        LinearHead.load(path)
    np.savez(path, weights=np.zeros((4, 2)), bias=np.zeros(3), labels=np.array('["a", "b"]'))
    with pytest.raises(HeadFileError, match="shape"):
        LinearHead.load(path)
    np.savez(path, weights=np.array([object()], dtype=object))
    with pytest.raises(HeadFileError):
        LinearHead.load(path)


def test_vectors_that_point_nearly_the_same_way_are_still_separated():
    """Texts written from one template embed close together: the first step size
    overshoots there, and the fit halves it instead of diverging."""
    rng = np.random.default_rng(2)
    common = rng.normal(size=384)
    apart = rng.normal(size=384) * 0.05
    noise = rng.normal(size=(200, 384)) * 0.02
    targets = np.repeat([0, 1], 100)
    vectors = common + np.where(targets[:, None] == 0, apart, -apart) + noise
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    assert (vectors @ vectors.T).min() > 0.99  # a fixed step of 4 ends at chance here
    head = fit_head(vectors, targets, ["a", "b"])
    assert head is not None
    assert (head.probabilities(vectors).argmax(axis=1) == targets).mean() >= 0.95


def test_the_fit_pauses_for_the_server_between_steps():
    vectors, targets = clusters()
    pauses = []
    settings = HeadSettings(epochs=50, check_every=10)
    fit_head(vectors, targets, ["a", "b", "c"], settings, pause=lambda: pauses.append(1))
    assert len(pauses) == 5


def test_auto_is_the_measured_recipe_and_given_values_are_kept():
    assert HeadSettings.chosen(64, None, None, None) == HeadSettings()
    assert HeadSettings.chosen(64, None, 8, None).epochs == 125  # still 1,000 steps
    settings = HeadSettings.chosen(64, 3, 16, 0.5, seed=7)
    assert (settings.epochs, settings.batch_size, settings.learning_rate) == (3, 16, 2.0)
    assert settings.steps_per_epoch(64) == 4 and settings.seed == 7
    assert HeadSettings.chosen(64, 3, 64, None).batch_size is None  # the whole set a step
    # n_epochs alone: batches that make about 1,000 steps, as many as the small set allows
    alone = HeadSettings.chosen(2000, 3, None, None)
    assert alone.batch_size == 6 and 3 * alone.steps_per_epoch(2000) == 1002
    assert HeadSettings.chosen(36, 3, None, None).batch_size == 1


def test_batches_take_their_steps_and_still_separate_the_clusters():
    vectors, targets = clusters()
    reports = []
    settings = HeadSettings.chosen(len(vectors), 20, 16, None, seed=3)
    head = fit_head(vectors, targets, ["a", "b", "c"], settings, progress=reports.append)
    assert head is not None
    assert reports[-1].total_steps == 20 * settings.steps_per_epoch(len(vectors))
    assert len(reports) <= 10 + 1  # many small steps report about ten times, not each 100
    test_vectors, test_targets = clusters(seed=1)
    assert (head.probabilities(test_vectors).argmax(axis=1) == test_targets).mean() >= 0.95
    again = fit_head(vectors, targets, ["a", "b", "c"], settings)
    assert again is not None and np.array_equal(again.weights, head.weights)  # the seed


def test_fewer_epochs_and_a_smaller_step_fit_less():
    vectors, targets = clusters()
    losses = {}
    for name, settings in {
        "auto": HeadSettings(),
        "one full step": HeadSettings.chosen(len(vectors), 1, len(vectors), None),
        "tiny steps": HeadSettings.chosen(len(vectors), None, None, 0.01),
    }.items():
        reports = []
        fit_head(vectors, targets, ["a", "b", "c"], settings, progress=reports.append)
        losses[name] = reports[-1].loss
    assert losses["auto"] < losses["tiny steps"] < losses["one full step"]
