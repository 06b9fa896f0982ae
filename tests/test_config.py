import pytest

from moorings.batch_settings import BatchingSettings
from moorings.config import ModelConfig, RuntimeOptions, VersionPolicy, parse_model_toml
from moorings.errors import InvalidArgument


def test_an_empty_model_toml_means_the_defaults() -> None:
    assert parse_model_toml("") == ModelConfig()
    assert ModelConfig().policy == VersionPolicy("latest", 1, ())


def test_every_section_is_read() -> None:
    config = parse_model_toml(
        '[versions]\npolicy = "specific"\nspecific = [1, 3]\n'
        "[labels]\nstable = 1\ncanary = 3\n"
        '[runtime]\nname = "onnx"\nintra_op_threads = 2\ntrusted_types = ["a.B"]\n'
        "[batching]\nmax_batch_size = 8\nbatch_timeout_micros = 500\n"
    )
    assert config.policy == VersionPolicy("specific", 1, (1, 3))
    assert config.labels == {"stable": 1, "canary": 3}
    assert config.runtime == RuntimeOptions(name="onnx", intra_op_threads=2, trusted_types=("a.B",))
    batching = config.batching_settings(BatchingSettings())
    assert (batching.max_batch_size, batching.batch_timeout_micros) == (8, 500)


@pytest.mark.parametrize(
    ("policy", "present", "selected"),
    [
        (VersionPolicy(), [3, 1, 2], [3]),
        (VersionPolicy(latest=2), [3, 1, 2], [2, 3]),
        (VersionPolicy(latest=0), [1, 2], []),
        (VersionPolicy("all"), [2, 1], [1, 2]),
        (VersionPolicy("specific", specific=(1, 5)), [1, 2, 3], [1]),
        (VersionPolicy(), [], []),
    ],
)
def test_version_policy_selects(policy: VersionPolicy, present: list[int], selected: list[int]) -> None:
    assert policy.select(present) == selected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[versions\n", "not valid TOML"),
        ("[serving]\n", "unknown section(s) in model.toml: serving"),
        ('[versions]\npolicy = "newest"\n', "versions.policy must be latest, all or specific, got 'newest'"),
        ("[versions]\nlatest = -1\n", "versions.latest must be a non-negative integer"),
        ("[versions]\nlatest = true\n", "versions.latest must be a non-negative integer"),
        ('[versions]\npolicy = "specific"\n', "needs versions.specific"),
        ('[versions]\nspecific = "1"\n', "versions.specific must be a list"),
        ("labels = 3\n", "[labels] must be a table"),
        ('[labels]\n"1x" = 1\n', "label '1x' must be"),
        ('[labels]\nstable = "1"\n', "labels.stable must be a non-negative integer"),
        ("[runtime]\nname = 3\n", "runtime.name must be a string"),
        ("[runtime]\ntrusted_types = [1]\n", "runtime.trusted_types must be a list of strings"),
        ("[batching]\nmax_batch_size = 0\n", "max_batch_size"),
        ("[batching]\nspeed = 1\n", "unknown batching setting(s): speed"),
    ],
)
def test_invalid_settings_name_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        parse_model_toml(text)
    assert message in info.value.message


def test_classes_output_is_read() -> None:
    assert parse_model_toml('[classes]\noutput = "probabilities"\n').classes_output == "probabilities"
    assert parse_model_toml("").classes_output is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[classes]\noutput = 3\n", "classes.output must be the name of an output"),
        ('[classes]\noutput = ""\n', "classes.output must be the name of an output"),
        ('[classes]\nfile = "x.txt"\n', "[classes] must be a table with only 'output'"),
        ('classes = "p"\n', "[classes] must be a table with only 'output'"),
    ],
)
def test_bad_classes_section(text: str, message: str) -> None:
    with pytest.raises(InvalidArgument) as error:
        parse_model_toml(text)
    assert message in error.value.message


def test_inputs_and_outputs_tables_reach_the_runtime_options() -> None:
    text = '[inputs.x]\ndtype = "float32"\nshape = [-1, 4]\n[outputs.y]\ndtype = "int64"\n'
    config = parse_model_toml(text)
    assert config.runtime.inputs == {"x": {"dtype": "float32", "shape": [-1, 4]}}
    assert config.runtime.outputs == {"y": {"dtype": "int64"}}
    with pytest.raises(InvalidArgument, match=r"one table per tensor, e.g. \[inputs.x\]"):
        parse_model_toml('inputs = "x"\n')
