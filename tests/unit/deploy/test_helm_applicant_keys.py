"""The chart passes the applicant key pair (docs/security.md) from a Secret: intake gets only the
public key, every processing pod (each serves the sync feed) only the private key, metrics neither;
without the Secret no pod gets either; each variable is a setting its service reads."""

from __future__ import annotations

import pytest

from dossier_intake.settings import IntakeSettings
from dossier_processing.settings import ProcessingSettings
from tests.unit.deploy.helm_chart import by_kind, component, env_of, render

SECRET = "dossier-applicant-keys"
WANTED = {
    "intake": {"INTAKE_APPLICANT_PUBLIC_KEY": "public"},
    "processing": {"PROCESSING_APPLICANT_PRIVATE_KEY": "private"},
    "metrics": {},
}
SETTINGS: dict[str, type[IntakeSettings] | type[ProcessingSettings]] = {
    "intake": IntakeSettings,
    "processing": ProcessingSettings,
}


def applicant_refs(deployment: dict) -> dict[str, str]:
    refs = {}
    for name, entry in env_of(deployment).items():
        if "APPLICANT" in name:
            ref = entry["valueFrom"]["secretKeyRef"]
            assert ref["name"] == SECRET
            refs[name] = ref["key"]
    return refs


@pytest.mark.parametrize("portal", [False, True])
def test_each_service_gets_just_its_half_of_the_key_pair(portal: bool) -> None:
    overrides = [f"applicantKeys.existingSecret={SECRET}"]
    if portal:
        overrides.append("processing.portal.url=https://portal.invalid/sync")
    deployments = by_kind(render("values.yaml", *overrides), "Deployment")
    assert len([d for d in deployments.values() if component(d) == "processing"]) == (3 if portal else 2)
    for name, deployment in deployments.items():
        refs = applicant_refs(deployment)
        assert refs == WANTED[component(deployment)], name
        settings = SETTINGS.get(component(deployment))
        for variable in refs:  # a setting the service reads
            assert settings is not None
            assert variable.removeprefix(settings.model_config["env_prefix"]).lower() in settings.model_fields


def test_without_the_secret_no_pod_gets_a_key() -> None:
    for deployment in by_kind(render("values.yaml"), "Deployment").values():
        assert applicant_refs(deployment) == {}
