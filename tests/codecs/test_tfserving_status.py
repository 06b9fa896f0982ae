from moorings.codecs.tfserving_status import status_json
from moorings.types import ModelStatus, VersionState, VersionStatus


def test_the_status_names_a_config_error_only_when_there_is_one() -> None:
    versions = [VersionStatus(1, VersionState.AVAILABLE)]
    assert status_json(ModelStatus("m", versions)) == {
        "model_version_status": [
            {"version": "1", "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}
        ]
    }
    body = status_json(ModelStatus("m", versions, "model.toml is not valid TOML: x"))
    assert body["model_config_error"] == "model.toml is not valid TOML: x"
    assert body["model_version_status"][0]["state"] == "AVAILABLE"
