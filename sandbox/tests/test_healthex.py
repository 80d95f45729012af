import asyncio
import base64
import json
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime
from email.utils import format_datetime, parsedate_to_datetime

import asyncssh
import boto3
import msgspec
import pytest
import requests
from sandbox.healthex import (
    ACTION_NEEDED,
    CONSENT_REASONS,
    CONSENT_TYPES,
    IN_PROGRESS,
    REASONS,
    RESOURCE_SCOPES,
    HealthExSandbox,
)

UPDATE = "{url}/v1/projects/{project}/recruitment/identified-patients/{patient}/$updateData"


def token(http, sb) -> str:
    response = http.post(
        f"{sb.url}/v1/auth/token", json={"apiKey": sb.api_key, "apiSecret": sb.api_secret}
    )
    assert response.status_code == 200, response.text
    return response.json()["token"]


def bearer(http, sb) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(http, sb)}"}


def update(http, sb, project, patient, headers, **body):
    url = UPDATE.format(url=sb.url, project=project, patient=patient)
    return http.post(url, headers=headers, json=body or None)


def fetch_all(http, url, headers, limit, **extra):
    """Every record of a list: patients in ``data``, consents inside ``results`` items."""
    rows, offset = [], 0
    while True:
        response = http.get(
            url, params={"limit": limit, "offset": offset}, headers={**headers, **extra}
        )
        assert response.status_code == 200, response.text
        body = response.json()
        if "results" in body:  # the documented consent answer
            assert set(body) == {"total", "results"}
            page = [item["consentRecord"] for item in body["results"]]
            assert all(set(item) == {"consentRecord"} for item in body["results"])
        else:  # the assumed patient list
            assert (body["limit"], body["offset"]) == (limit, offset)
            page = body["data"]
        rows.extend(page)
        offset += len(page)
        if not page or offset >= body["total"]:
            return rows


def s3_client(sb, config=None):
    return boto3.session.Session().client(
        "s3",
        endpoint_url=sb.s3_endpoint_url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
        config=config,
    )


def s3_keys(sb) -> set[str]:
    client = s3_client(sb)
    try:
        pages = client.get_paginator("list_objects_v2").paginate(
            Bucket=sb.s3_bucket, Prefix=sb.s3_prefix
        )
        return {item["Key"] for page in pages for item in page.get("Contents", [])}
    finally:
        client.close()


def sftp_read(sb, path, *, use_key=False) -> tuple[list[str], bytes]:
    """List the directory of ``path`` and read ``path`` over SFTP."""

    async def run():
        auth = (
            {"client_keys": [asyncssh.import_private_key(sb.sftp_client_key)]}
            if use_key
            else {"password": sb.sftp_password, "client_keys": None}
        )
        async with (
            asyncssh.connect(
                sb.sftp_host,
                sb.sftp_port,
                username=sb.sftp_username,
                known_hosts=asyncssh.import_known_hosts(sb.sftp_host_key_line),
                **auth,
            ) as conn,
            conn.start_sftp_client() as sftp,
        ):
            names = [n for n in await sftp.listdir(path.rsplit("/", 1)[0]) if n not in (".", "..")]
            async with sftp.open(path, "rb") as remote:
                return names, await remote.read()

    return asyncio.run(run())


@pytest.fixture
def api_sandbox(make_healthex_sandbox):
    """Like ``healthex_sandbox`` without delivery servers: for tests of the API alone."""
    return make_healthex_sandbox(seed=1, patients_per_project=10, delivery="none")


# -- auth ---------------------------------------------------------------------------------


def test_token_is_a_jwt_and_guards_the_data(http, make_healthex_sandbox):
    sb = make_healthex_sandbox(delivery="none", patients_per_project=2)
    patients = f"{sb.url}/v1/projects/proj-a/recruitment/identified-patients"
    bad = http.post(f"{sb.url}/v1/auth/token", json={"apiKey": sb.api_key, "apiSecret": "x"})
    assert bad.status_code == 401
    assert bad.json()["error"] == "UNAUTHORIZED"
    jwt = token(http, sb)
    header, payload, signature = jwt.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert claims["exp"] - time.time() == pytest.approx(86400, abs=5)
    assert json.loads(base64.urlsafe_b64decode(header + "=="))["alg"] == "HS256"
    assert signature
    assert http.get(patients).status_code == 401
    assert http.get(patients, headers={"Authorization": "Bearer nope"}).status_code == 401
    headers = {"Authorization": f"Bearer {jwt}"}
    assert http.get(patients, headers=headers).status_code == 200
    sb.revoke_tokens()
    assert http.get(patients, headers=headers).status_code == 401
    assert sb.stats()["auth_requests"] == 2
    assert sb.stats()["tokens_issued"] == 1


def test_expired_token_is_refused(http, make_healthex_sandbox):
    sb = make_healthex_sandbox(delivery="none", patients_per_project=2, token_ttl=0)
    response = http.get(f"{sb.url}/v1/projects/proj-a/consent-records", headers=bearer(http, sb))
    assert response.status_code == 401


def test_expire_and_429_faults(http, make_healthex_sandbox):
    sb = make_healthex_sandbox(delivery="none", patients_per_project=2)
    headers = bearer(http, sb)
    url = f"{sb.url}/v1/projects/proj-a/consent-records"
    sb.fail_next("429", "expire")
    throttled = http.get(url, headers=headers)
    assert throttled.status_code == 429
    assert throttled.headers["Retry-After"] == "1"
    assert http.get(url, headers=headers).status_code == 401
    assert http.get(url, headers=headers).status_code == 401  # that token is revoked
    assert http.get(url, headers=bearer(http, sb)).status_code == 200


# -- lists --------------------------------------------------------------------------------


def test_lists_page_through_the_truth(http, api_sandbox):
    sb = api_sandbox
    headers = bearer(http, sb)
    base = f"{sb.url}/v1/projects/proj-b"
    patients = fetch_all(http, f"{base}/recruitment/identified-patients", headers, 3)
    ids = set(sb.patient_ids("proj-b"))
    assert [p["id"] for p in patients] == [
        r["id"] for r in sb.truth("identified_patients") if r["id"] in ids
    ]
    assert len(patients) == 10
    assert set(patients[0]) == {
        "id", "referenceId", "externalId", "firstName", "lastName", "dateOfBirth",
        "email", "phone", "status", "createdAt", "updatedAt",
    }  # fmt: skip
    consents = fetch_all(http, f"{base}/consent-records", headers, 4)
    assert consents == [r for r in sb.truth("consent_records") if r["studyId"] == "proj-b"]
    assert {c["patientId"] for c in consents} <= ids
    per_patient = Counter(c["patientId"] for c in consents)
    assert set(per_patient.values()) <= {1, 2}
    assert sb.stats()["list_requests"] == 4 + -(-len(consents) // 4)  # no empty last page
    for limit in ("0", "1001", "x"):
        response = http.get(f"{base}/consent-records", params={"limit": limit}, headers=headers)
        assert response.status_code == 400
    assert http.get(f"{base}/consent-records", params={"limit": 1000}, headers=headers).ok
    unknown = http.get(f"{sb.url}/v1/projects/nope/consent-records", headers=headers)
    assert unknown.status_code == 404
    sb.configure(forbidden_projects=["proj-b"])
    assert http.get(f"{base}/consent-records", headers=headers).status_code == 403


def test_consent_records_have_the_documented_shape(http, api_sandbox):
    sb = api_sandbox
    consents = fetch_all(http, f"{sb.url}/v1/projects/proj-a/consent-records", bearer(http, sb), 50)
    always = {
        "id", "patientId", "studyId", "studyVersionId", "consentType", "consentStatus",
        "timestamp", "expirationTimestamp", "studySnapshotId", "consentConfigSnapshotId",
        "consentUIFlow", "uiHash", "language", "consentDataResourceScopes",
        "consentDataSensitivityScopes",
    }  # fmt: skip
    optional = {"consentStats", "fullRecordWithoutRestrictedData"}
    assert all(always <= set(c) <= always | optional for c in consents)
    assert any(optional <= set(c) for c in consents)  # the optional fields occur
    assert any(not optional & set(c) for c in consents) or len(consents) < 10
    assert {c["consentType"] for c in consents} <= set(CONSENT_TYPES)
    assert {c["consentStatus"] for c in consents} <= {"OPTED_IN", "OPTED_OUT"}
    assert all(set(c["consentDataResourceScopes"]) <= set(RESOURCE_SCOPES) for c in consents)
    assert all("updatedAt" not in c for c in consents)  # not documented, not served


def _date(response) -> datetime:
    return parsedate_to_datetime(response.headers["Date"])


def test_if_modified_since_returns_records_changed_after_it(http, api_sandbox):
    sb = api_sandbox
    headers = bearer(http, sb)
    url = f"{sb.url}/v1/projects/proj-a/consent-records"
    now = format_datetime(_date(http.get(url, headers=headers)), usegmt=True)
    assert fetch_all(http, url, headers, 100, **{"If-Modified-Since": now}) == []
    patient = sb.patient_ids("proj-a", IN_PROGRESS)[0]
    changed = sb.set_consent(patient, consented=False)
    assert changed["consentStatus"] == "OPTED_OUT"
    after = fetch_all(http, url, headers, 100, **{"If-Modified-Since": now})
    assert after == [changed]
    assert _date(http.get(url, headers=headers)) >= parsedate_to_datetime(now)  # its clock
    everything = fetch_all(
        http, url, headers, 100, **{"If-Modified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"}
    )
    assert everything[-1] == changed  # the most recently changed comes last
    assert len(everything) == len(
        [c for c in sb.truth("consent_records") if c["studyId"] == "proj-a"]
    )
    bad = http.get(url, headers={**headers, "If-Modified-Since": "yesterday"})
    assert bad.status_code == 400


# -- $updateData --------------------------------------------------------------------------


def test_update_data_outcomes_follow_the_script(http, api_sandbox):
    sb = api_sandbox
    headers = bearer(http, sb)
    seen = Counter()
    for project in sb.projects:
        for patient in sb.patient_ids(project):
            response = update(http, sb, project, patient, headers, skipInteractive=True)
            assert response.status_code == 201, response.text
            body = response.json()
            seen[body.get("patientActionNeededReason") or body["message"]] += 1
            counts = body["counts"]
            assert set(counts) == {
                "skippedExistingFacilities", "changedExistingFacilities",
                "unchangedExistingFacilities", "retrievedNewFacilities", "skippedNewFacilities",
            }  # fmt: skip
            assert body["skippedFacilitiesCount"] == (
                counts["skippedExistingFacilities"] + counts["skippedNewFacilities"]
            )
            if body["message"] == IN_PROGRESS:
                assert "patientActionNeededReason" not in body
                assert body["retrievalId"]
            else:
                assert body["message"] == ACTION_NEEDED
                assert "retrievalId" not in body
                assert set(counts.values()) == {0}
    assert set(seen) == {IN_PROGRESS, *REASONS}
    assert seen[IN_PROGRESS] > sum(seen[r] for r in REASONS)
    log = sb.update_requests()
    assert len(log) == 20
    assert {entry["skip_interactive"] for entry in log} == {True}
    assert Counter(e["outcome"] for e in log) == seen
    assert sb.stats()["update_requests"] == 20


def test_update_data_errors(http, api_sandbox):
    sb = api_sandbox
    headers = bearer(http, sb)
    patient = sb.patient_ids("proj-a", IN_PROGRESS)[0]
    assert update(http, sb, "proj-b", patient, headers).status_code == 404
    assert update(http, sb, "nope", patient, headers).status_code == 404
    assert update(http, sb, "proj-a", "never-added", headers).status_code == 404
    assert update(http, sb, "proj-a", patient, {}).status_code == 401
    sb.configure(paused_projects=["proj-a"])
    paused = update(http, sb, "proj-a", patient, headers)
    assert paused.status_code == 409
    assert paused.json()["error"] == "STUDY_NOT_ACTIVE"
    assert paused.json()["message"]
    sb.configure(paused_projects=[], forbidden_projects=["proj-a"])
    assert update(http, sb, "proj-a", patient, headers).status_code == 403
    sb.configure(forbidden_projects=[])
    encoded = f"{sb.url}/v1/projects/proj-a/recruitment/identified-patients/{patient}/%24updateData"
    assert http.post(encoded, headers=headers).status_code == 201
    bad = update(http, sb, "proj-a", patient, headers, skipInteractive="yes")
    assert bad.status_code == 400
    assert [e["status"] for e in sb.update_requests()] == [404, 404, 404, 409, 403, 201, 400]


def test_consent_changes_change_the_outcome(http, api_sandbox):
    sb = api_sandbox
    headers = bearer(http, sb)
    patient = sb.patient_ids("proj-a", IN_PROGRESS)[0]
    sb.set_consent(patient, consented=False)
    body = update(http, sb, "proj-a", patient, headers).json()
    assert body["patientActionNeededReason"] == "CONSENT_REVOKED"
    for reason in CONSENT_REASONS:
        for other in sb.patient_ids(outcome=reason):
            sb.set_consent(other, consented=True)
            project = next(p for p in sb.projects if other in sb.patient_ids(p))
            assert update(http, sb, project, other, headers).json()["message"] == IN_PROGRESS


# -- delivery -----------------------------------------------------------------------------


def test_initial_bundles_are_delivered_to_s3_and_sftp(healthex_sandbox):
    sb = healthex_sandbox
    delivered = sb.delivered()
    consented = {
        c["patientId"] for c in sb.truth("consent_records") if c["consentStatus"] == "OPTED_IN"
    }
    assert {d["patient_id"] for d in delivered} == consented
    assert len(delivered) == len(consented)
    assert s3_keys(sb) == {sb.s3_prefix + d["key"] for d in delivered}
    first = delivered[0]
    assert first["key"] == (
        f"org-1/{first['project_id']}/{first['patient_id']}/{first['retrieval_id']}/bundle.json"
    )
    names, data = sftp_read(sb, f"{sb.sftp_root}/{first['key']}")
    assert names == ["bundle.json"]
    assert len(data) == first["size"]
    assert data == sb.read_file(first["key"])
    bundle = msgspec.json.decode(data)
    assert bundle["resourceType"] == "Bundle"
    assert bundle["type"] == "collection"
    assert len(bundle["entry"]) == first["resource_count"]


def test_update_data_delivers_a_new_bundle(http, healthex_sandbox):
    sb = healthex_sandbox
    patient = sb.patient_ids("proj-a", IN_PROGRESS)[0]
    before = s3_keys(sb)
    body = update(http, sb, "proj-a", patient, bearer(http, sb)).json()
    key = f"org-1/proj-a/{patient}/{body['retrievalId']}/bundle.json"
    assert s3_keys(sb) - before == {sb.s3_prefix + key}
    client = s3_client(sb)
    try:
        obj = client.get_object(Bucket=sb.s3_bucket, Key=sb.s3_prefix + key)
        resources = [e["resource"] for e in json.loads(obj["Body"].read())["entry"]]
    finally:
        client.close()
    (meta,) = [d for d in sb.delivered() if d["key"] == key]
    assert len(resources) == meta["resource_count"]
    _, data = sftp_read(sb, f"{sb.sftp_root}/{key}", use_key=True)
    assert [e["resource"] for e in json.loads(data)["entry"]] == resources
    assert sb.bundle_resources(key) == resources
    truth = [t for t in sb.truth_resources() if t["retrieval_id"] == body["retrievalId"]]
    assert [t["resource"] for t in truth] == resources
    assert {(t["project_id"], t["patient_id"], t["key"]) for t in truth} == {
        ("proj-a", patient, key)
    }


def test_delivery_can_lag_the_answer(http, make_healthex_sandbox):
    sb = make_healthex_sandbox(delivery="none", patients_per_project=3, delivery_delay_seconds=0.3)
    patient = sb.patient_ids("proj-a", IN_PROGRESS)[0]
    body = update(http, sb, "proj-a", patient, bearer(http, sb)).json()
    retrievals = lambda: {d["retrieval_id"] for d in sb.delivered()}  # noqa: E731
    assert body["retrievalId"] not in retrievals()
    deadline = time.monotonic() + 10
    while body["retrievalId"] not in retrievals() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert body["retrievalId"] in retrievals()


def test_sftp_refuses_a_wrong_password(make_healthex_sandbox):
    sb = make_healthex_sandbox(delivery="sftp", patients_per_project=1, projects=["p"])

    async def run():
        async with asyncssh.connect(
            sb.sftp_host,
            sb.sftp_port,
            username=sb.sftp_username,
            password="wrong",
            client_keys=None,
            known_hosts=asyncssh.import_known_hosts(sb.sftp_host_key_line),
        ):
            pass

    with pytest.raises(asyncssh.PermissionDenied):
        asyncio.run(run())


def test_bundles_are_valid_fhir_with_coded_content(healthex_sandbox):
    bundle_model = pytest.importorskip("fhir.resources.R4B.bundle").Bundle
    sb = healthex_sandbox
    systems = Counter()
    for item in sb.delivered()[:3]:
        raw = msgspec.json.decode(sb.read_file(item["key"]))
        bundle_model.model_validate(raw)
        resources = [e["resource"] for e in raw["entry"]]
        assert 30 <= len(resources) <= 80
        for resource in resources:
            assert resource["id"]
            assert resource["meta"]["lastUpdated"].endswith("Z")
            for coding in _codings(resource):
                systems[(resource["resourceType"], coding["system"])] += 1
    wanted = {
        ("Condition", "http://hl7.org/fhir/sid/icd-10-cm"),
        ("Condition", "http://snomed.info/sct"),
        ("Observation", "http://loinc.org"),
        ("MedicationRequest", "http://www.nlm.nih.gov/research/umls/rxnorm"),
        ("MedicationStatement", "http://www.nlm.nih.gov/research/umls/rxnorm"),
        ("Immunization", "http://hl7.org/fhir/sid/cvx"),
        ("Procedure", "http://snomed.info/sct"),
        ("Procedure", "http://www.ama-assn.org/go/cpt"),
        ("DiagnosticReport", "http://loinc.org"),
    }
    assert wanted <= set(systems)
    types = {t["resource"]["resourceType"] for t in sb.truth_resources()}
    assert {
        "Patient", "Condition", "Observation", "MedicationRequest", "MedicationStatement",
        "AllergyIntolerance", "Immunization", "Procedure", "Encounter", "DiagnosticReport",
        "DocumentReference", "Practitioner", "Organization", "CarePlan",
    } <= types  # fmt: skip


def _codings(value):
    if isinstance(value, dict):
        if "system" in value and "code" in value:
            yield value
        for item in value.values():
            yield from _codings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _codings(item)


def test_write_file_and_padded_bundles(healthex_sandbox):
    sb = healthex_sandbox
    patient = sb.patient_ids("proj-a")[0]
    layout = f"org-1/proj-a/{patient}/manual/bundle.json"
    sb.write_file(layout, b'{"resourceType": "Bundle", "entry": [')
    sb.write_file("notes/readme.txt", b"not a bundle")
    files = {d["key"]: d for d in sb.delivered()}
    assert files[layout]["resource_count"] is None
    assert files[layout]["retrieval_id"] == "manual"
    assert files["notes/readme.txt"]["project_id"] is None
    assert {sb.s3_prefix + layout, sb.s3_prefix + "notes/readme.txt"} <= s3_keys(sb)
    assert sftp_read(sb, f"{sb.sftp_root}/notes/readme.txt")[1] == b"not a bundle"
    assert all(t["key"] not in (layout, "notes/readme.txt") for t in sb.truth_resources())
    key = sb.write_bundle("proj-a", patient, size_mb=1)
    padded = next(d for d in sb.delivered() if d["key"] == key)
    assert padded["size"] >= 1024 * 1024
    resources = sb.bundle_resources(key)
    assert len(resources) == padded["resource_count"] > 500
    assert len({r["id"] for r in resources}) == len(resources)
    custom = [{"resourceType": "Basic", "id": "b1", "code": {"text": "x"}}]
    assert sb.bundle_resources(sb.write_bundle("proj-a", patient, resources=custom)) == custom


def test_same_seed_same_data(make_healthex_sandbox):
    one = make_healthex_sandbox(seed=3, delivery="none", patients_per_project=4)
    two = make_healthex_sandbox(seed=3, delivery="none", patients_per_project=4)
    other = make_healthex_sandbox(seed=4, delivery="none", patients_per_project=4)
    for table in one.tables:
        assert one.truth(table) == two.truth(table)
        assert one.truth(table) != other.truth(table)
    assert one.truth_resources() == two.truth_resources()
    patient = one.patient_ids("proj-a")[0]
    assert one.bundle_resources(one.write_bundle("proj-a", patient)) == two.bundle_resources(
        two.write_bundle("proj-a", patient)
    )


def test_mutations(http, make_healthex_sandbox):
    sb = make_healthex_sandbox(delivery="none", patients_per_project=5)
    headers = bearer(http, sb)
    gone = sb.mutate("identified_patients", "delete", count=1)[0]
    project = next(
        c["studyId"] for c in sb.truth("consent_records") if c["patientId"] != gone["id"]
    )
    assert update(http, sb, project, gone["id"], headers).status_code == 404
    (added,) = sb.mutate("identified_patients", "insert")
    assert added["updatedAt"] == added["createdAt"]
    (renewed,) = sb.mutate("consent_records", "update")
    assert sb.truth("consent_records")[-1] == renewed  # the latest change is served last


# -- control API and CLI ------------------------------------------------------------------


def test_control_endpoints(http, healthex_sandbox):
    sb = healthex_sandbox
    control = f"{sb.url}/_control"
    info = http.get(f"{control}/delivery").json()
    assert info["s3_bucket"] == sb.s3_bucket
    assert info["sftp_port"] == sb.sftp_port
    assert info["sftp_password"] == sb.sftp_password
    assert info["sftp_host_key_line"].startswith(f"[127.0.0.1]:{sb.sftp_port} ssh-ed25519 ")
    patient = http.get(f"{control}/patients", params={"project_id": "proj-b"}).json()[0]
    written = http.post(
        f"{control}/write_bundle", json={"project_id": "proj-b", "patient_id": patient}
    ).json()["key"]
    assert written in [d["key"] for d in http.get(f"{control}/delivered").json()]
    assert http.get(f"{control}/bundle", params={"key": written}).json()[0]["id"] == patient
    raw = base64.b64encode(b"\x00\x01").decode()
    assert http.post(f"{control}/write_file", json={"key": "x.bin", "data_base64": raw}).ok
    assert sb.read_file("x.bin") == b"\x00\x01"
    consent = http.post(
        f"{control}/set_consent", json={"patient_id": patient, "consented": False}
    ).json()
    assert consent["consentStatus"] == "OPTED_OUT"
    assert http.post(f"{control}/configure", json={"paused_projects": ["proj-b"]}).ok
    assert update(http, sb, "proj-b", patient, bearer(http, sb)).status_code == 409
    assert http.get(f"{control}/update_requests").json()[0]["status"] == 409
    bad = http.post(f"{control}/write_bundle", json={"project_id": "proj-a", "patient_id": "x"})
    assert bad.status_code == 400
    truth = http.get(f"{control}/truth", params={"table": "identified_patients"}).json()
    assert truth == sb.truth("identified_patients")


def test_delivery_must_be_known():
    with pytest.raises(ValueError, match="delivery"):
        HealthExSandbox(delivery="ftp")


def test_cli_prints_url_and_serves():
    command = [
        sys.executable, "-m", "sandbox", "healthex", "--port", "0", "--projects", "p1,p2",
        "--patients", "3", "--delivery", "s3",
    ]  # fmt: skip
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as process:
        try:
            url = process.stdout.readline().strip()
            assert url.startswith("http://127.0.0.1:")
            info = requests.get(f"{url}/_control/delivery", timeout=10).json()
            delivered = requests.get(f"{url}/_control/delivered", timeout=10).json()
            client = boto3.session.Session().client(
                "s3",
                endpoint_url=info["s3_endpoint_url"],
                aws_access_key_id=info["s3_access_key_id"],
                aws_secret_access_key=info["s3_secret_access_key"],
                region_name=info["s3_region"],
            )
            try:
                listed = client.list_objects_v2(Bucket=info["s3_bucket"])["Contents"]
            finally:
                client.close()
            assert {o["Key"] for o in listed} == {info["s3_prefix"] + d["key"] for d in delivered}
            assert {d["project_id"] for d in delivered} == {"p1", "p2"}
            assert info["sftp_port"] is None
        finally:
            process.terminate()
            assert process.wait(timeout=10) == 0
        assert process.stdout.read() == ""


def test_s3_requests_of_a_client_are_faulted_as_api_requests_are(make_healthex_sandbox):
    from botocore.config import Config  # noqa: PLC0415
    from botocore.exceptions import ClientError  # noqa: PLC0415

    sb = make_healthex_sandbox(seed=9, patients_per_project=1, delivery="s3")
    sb.fail_next("429", "500")
    client = s3_client(sb, config=Config(retries={"mode": "standard", "total_max_attempts": 1}))
    try:
        codes = []
        for _ in range(3):
            try:
                client.list_objects_v2(Bucket=sb.s3_bucket)
                codes.append("ok")
            except ClientError as exc:
                codes.append(exc.response["Error"]["Code"])
    finally:
        client.close()
    assert codes == ["SlowDown", "InternalError", "ok"]
    assert sb.stats()["faults_injected"] == 2
    # The sandbox's own deliveries are never faulted.
    sb.set_faults(rate=1.0, kinds=["503"])
    project = sb.projects[0]
    key = sb.write_bundle(project, sb.patient_ids(project)[0])
    assert sb.read_file(key)


def test_vendor_fields_reach_every_record_of_an_answer(http, api_sandbox):
    sb = api_sandbox
    headers = bearer(http, sb)
    url = f"{sb.url}/v1/projects/proj-a/consent-records"
    control = f"{sb.url}/_control/vendor_fields"
    added = {"signerName": "someone", "newThing": {"deep": [1]}}
    assert http.post(control, json={"path": "/v1/projects/proj-a/", "fields": added}).ok
    consents = fetch_all(http, url, headers, 3)
    assert consents
    assert all(c["signerName"] == "someone" and c["newThing"] == {"deep": [1]} for c in consents)
    patients = fetch_all(
        http, f"{sb.url}/v1/projects/proj-a/recruitment/identified-patients", headers, 3
    )
    assert all(p["signerName"] == "someone" for p in patients)
    other = fetch_all(http, f"{sb.url}/v1/projects/proj-b/consent-records", headers, 50)
    assert all("signerName" not in c for c in other)  # only under the path asked
    assert sb.truth("consent_records")[0].get("signerName") is None  # the truth is unchanged
    assert http.post(control, json={"clear": True}).ok
    assert all("signerName" not in c for c in fetch_all(http, url, headers, 50))
    assert http.post(control, json={"path": "/", "fields": {}}).status_code == 400
