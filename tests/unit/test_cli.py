import json

import pytest

from hssm_nre import cli


def test_list_shows_every_model_with_a_status(capsys):
    from hssm_nre.config import available_models

    assert cli.main(["list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["model"] for r in rows} == set(available_models())
    by = {r["model"]: r for r in rows}
    assert by["ddm"]["status"] == "shipped"
    assert by["angle"]["status"] == "shipped"
    assert by["ornstein_angle"]["status"] == "trainable"


def test_info_prints_box_and_network(capsys):
    assert cli.main(["info", "ddm"]) == 0
    out = capsys.readouterr().out
    assert "a [0.3, 2.5]" in out and "shipped" in out and "hssm-nre train ddm" in out
    assert "validation: passed" in out and "likelihood in hssm.HSSM by default: normalised" in out
    assert "time:    continuous (a - 0.5826 sqrt(dt)" in out and "  time: continuous" in out


def test_unknown_model_is_a_clean_error(capsys):
    assert cli.main(["info", "dmm"]) == 2
    assert "Did you mean" in capsys.readouterr().err


def test_reproduce_command_round_trips_through_the_parser():
    from hssm_nre.config import TrainSettings
    from hssm_nre.training import reproduce_command

    s = TrainSettings(n_simulations=40_000, steps=150, batch_size=256, K=4, widths=(16, 16),
                      evidence_widths=(8,), seed=1, learning_rate=5e-4, gamma=2.0)
    cmd = reproduce_command("ddm", s).split()
    assert cmd[:3] == ["hssm-nre", "train", "ddm"]
    args = cli.build_parser().parse_args(cmd[1:])
    assert cli._settings_from(args) == s


def test_a_time_limited_network_records_and_reproduces_its_steps():
    """A stopped-early network's settings and reproduce command name the steps it ran."""
    from hssm_nre.config import TrainSettings
    from hssm_nre.training import reproduce_command

    s = TrainSettings(n_simulations=40_000, steps=150, batch_size=256, extra={"stop_after_steps": 90})
    cmd = reproduce_command("ddm", s)
    assert cmd.endswith("--stop-after-steps 90")
    assert cli._settings_from(cli.build_parser().parse_args(cmd.split()[1:])) == s
    padded = TrainSettings(n_simulations=40_000, steps=150, extra={"pad": 0.1, "stop_after_steps": 90})
    cmd = reproduce_command("lca_3", padded)
    assert "--pad 0.1" in cmd
    assert cli._settings_from(cli.build_parser().parse_args(cmd.split()[1:])) == padded


def test_feature_choice_is_named_in_the_reproduce_command_and_refused_where_it_cannot_apply(capsys):
    from hssm_nre.config import TrainSettings, model_spec
    from hssm_nre.training import reproduce_command

    s = TrainSettings()
    for name, default in (("ddm", "scaling"), ("ddm_sdv", "scaling"), ("full_ddm", "edge"), ("angle", "scaling"), ("weibull", "scaling")):
        assert model_spec(name).features == default
        assert reproduce_command(name, s, default) == f"hssm-nre train {name}"
        for other in {"scaling", "edge", "bound", "generic"} - {default}:
            cmd = reproduce_command(name, s, other)
            assert cmd.endswith(f"--features {other}")
            assert cli.build_parser().parse_args(cmd.split()[1:]).features == other
    assert cli.main(["train", "race_3", "--features", "edge", "--steps", "1"]) == 2  # before any simulation
    assert "the edge features need a generic two-choice model" in capsys.readouterr().err
    assert cli.main(["train", "lca_3", "--pad", "0.9", "--steps", "1"]) == 2  # a clean error, no traceback
    assert "pad must be a fraction" in capsys.readouterr().err
    assert cli.main(["train", "full_ddm", "--features", "scaling", "--steps", "1"]) == 2
    assert "the scaling (DDM) features need" in capsys.readouterr().err


def test_normalise_adds_a_normaliser_that_info_then_reports(tiny_entry, isolated_cache, capsys):
    from hssm_nre.architecture import normaliser_weights
    from hssm_nre.cache import find_network, load_entry, save_entry

    e = tiny_entry
    folder = save_entry(e.spec, e.settings, e.weights, evidence=e.evidence, root=isolated_cache)
    assert not normaliser_weights(load_entry(folder).weights)
    assert cli.main(["normalise", "ddm", "--weights", str(folder), "--n-theta", "32", "--steps", "20"]) == 0
    out = capsys.readouterr().out
    assert "Normalised 'ddm'" in out and "v " in out
    assert normaliser_weights(load_entry(folder).weights)
    assert cli.main(["cache", "pin", "ddm", folder.name]) == 0
    assert find_network("ddm").path == folder  # the pinned cache entry, now normalised, is what HSSM uses
    assert cli.main(["info", "ddm"]) == 0
    assert "normaliser: yes (own" in capsys.readouterr().out


def test_normalise_refuses_a_network_of_another_model(tiny_entry, capsys):
    assert cli.main(["normalise", "angle", "--weights", str(tiny_entry.path)]) == 2
    assert "holds a network for 'ddm'" in capsys.readouterr().err


def test_validate_takes_one_dataset_count_for_all_trial_counts_or_one_each(monkeypatch):
    import hssm_nre.validation as validation
    from hssm_nre import cli

    seen = []

    def fake_validate(model, *, settings, **kw):
        seen.append(settings)
        raise SystemExit(0)

    monkeypatch.setattr(validation, "validate", fake_validate)
    for argv, want in ((["--fidelity-trials", "1000,5000"], (10, 2)),
                       (["--fidelity-trials", "1000,5000", "--fidelity-datasets", "4"], (4, 4)),
                       (["--fidelity-trials", "100,1000,5000", "--fidelity-datasets", "8,6,1"], (8, 6, 1))):
        with pytest.raises(SystemExit):
            cli.main(["validate", "ddm", *argv])
        assert seen[-1].fidelity_datasets == want
    with pytest.raises(SystemExit, match="gives 2 counts for 3 trial counts"):
        cli.main(["validate", "ddm", "--fidelity-datasets", "1,2"])
