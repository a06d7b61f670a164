"""Profile overrides are checked against their fields' types before anything runs: coerced where the meaning
is plain (an int for a float, a list for a tuple, "none" for None), one clear error otherwise."""
import pytest

from thesislib.__main__ import main
from thesislib.profiles import get_profile


def test_overrides_are_coerced_to_their_fields_types():
    p = get_profile("smoke", steps=3.0, lr=1, st_real_share=[0.5, 1], gan_hw=[8, 16], encoder_weights="none",
                    source_world_hw="None", st_pool="train+extra", compile=True)
    assert (p.steps, p.lr, p.st_real_share, p.gan_hw) == (3, 1.0, (0.5, 1.0), (8, 16))
    assert p.encoder_weights is None and p.source_world_hw is None and p.st_pool == "train+extra" and p.compile


@pytest.mark.parametrize("field, value, expected", [
    ("steps", "abc", "an integer"), ("steps", 2.5, "an integer"), ("steps", True, "an integer"),
    ("lr", "x", "a number"), ("compile", 1, "true or false"),
    ("st_real_share", "[0.5", "a list of numbers"), ("st_real_share", ["a"], "a list of numbers"),
    ("gan_hw", [1, 2, 3], "a list of 2 integers"), ("seeds", [0.5], "a list of integers"),
    ("crop_hw", "big", "a list of 2 integers, e.g. [64,128], or none"),
    ("st_pool", "extra", "one of train, train+extra"), ("encoder_weights", "imagenet21k", "one of imagenet, none"),
])
def test_a_value_that_does_not_fit_its_field_names_field_value_and_form(field, value, expected):
    with pytest.raises(ValueError) as e:
        get_profile("smoke", **{field: value})
    assert str(e.value).startswith(f"profile field {field}={value!r} does not fit: expected {expected}")


@pytest.mark.parametrize("bad", ["steps=abc", "st_real_share=[0.5", "gan_hw=[1,2,3]"])
def test_the_command_line_refuses_a_bad_override_with_one_line(bad, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("THESISLIB_BUILD", str(tmp_path))          # restored after: main sets it from --build-dir
    assert main(["status", "--profile", "smoke", "--build-dir", str(tmp_path), bad]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"error: profile field {bad.split('=')[0]}=")
    assert not any(tmp_path.iterdir()), "nothing runs before the check"
