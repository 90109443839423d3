"""The test bed proves itself without the C++ code.

A pure-Python aws-iam login (botocore SigV4, token layout of
hashicorp/consul-awsauth) against the real Consul and moto: it must succeed
for a trusted role and be refused for an untrusted role and for any
tampering. This is the oracle the C++ signer is held to.
"""
from __future__ import annotations

import base64
import json

import boto3
import botocore.exceptions
import pytest
import requests

from conftest import API_ROLE, UNTRUSTED_ROLE, WEB_ROLE
from consul_ecs_testbed import bed as tb


def _replay_sts(parts: dict, moto: tb.MotoServer) -> requests.Response:
    """Sends the STS request of a bearer token to moto the way Consul does:
    to STSEndpoint + path, Host header as signed, same headers and body."""
    headers = {k: ",".join(v) for k, v in parts["headers"].items()}
    return requests.post(moto.url + "/", data=parts["body"].encode(), headers=headers, timeout=10)


@pytest.fixture
def web_creds(aws: tb.AwsWorld) -> tb.AwsCreds:
    return aws.assume(WEB_ROLE, "0123456789abcdef0123456789abcdef")


# ---------------------------------------------------------------- Consul ---

def test_consul_has_acls_default_deny(consul: tb.ConsulServer):
    # Anonymous writes are refused...
    r = consul.request("PUT", "/v1/catalog/register", token="", json={
        "Node": "n1", "Address": "10.0.0.1",
        "Service": {"ID": "x", "Service": "x", "Port": 1}})
    assert r.status_code == 403, r.text
    # ...and the management token made up by the fixture is the management one.
    me = consul.must(consul.get("/v1/acl/token/self"))
    assert me["SecretID"] == consul.token
    assert any(p["Name"] == "global-management" for p in me.get("Policies", []))


def test_consul_auth_method_configured(consul: tb.ConsulServer, moto: tb.MotoServer):
    m = consul.must(consul.get(f"/v1/acl/auth-method/{tb.AUTH_METHOD_NAME}"))
    assert m["Type"] == "aws-iam"
    assert m["Config"]["STSEndpoint"] == moto.url
    assert m["Config"]["BoundIAMPrincipalARNs"] == [tb.BOUND_ARN_PATTERN]
    rules = consul.must(consul.get(f"/v1/acl/binding-rules?authmethod={tb.AUTH_METHOD_NAME}"))
    assert [(r["BindType"], r["BindName"]) for r in rules] == [
        ("service", "${entity_tags.consul.hashicorp.com.service-name}")]


# ------------------------------------------------------------------ moto ---

def test_moto_verifies_signatures(moto: tb.MotoServer, web_creds: tb.AwsCreds):
    """Auth is really on: the right key signs, a wrong secret or an unknown
    key is refused. Without this a 'tampered signature' test proves nothing."""
    def sts(access, secret, token):
        return boto3.client("sts", region_name=tb.REGION, endpoint_url=moto.url,
                            aws_access_key_id=access, aws_secret_access_key=secret,
                            aws_session_token=token)

    ident = sts(web_creds.access_key_id, web_creds.secret_access_key,
                web_creds.session_token).get_caller_identity()
    assert ident["Arn"] == (f"arn:aws:sts::{tb.ACCOUNT_ID}:assumed-role/{WEB_ROLE}/"
                            "0123456789abcdef0123456789abcdef")

    with pytest.raises(botocore.exceptions.ClientError) as e:
        sts(web_creds.access_key_id, "not-the-secret", web_creds.session_token).get_caller_identity()
    assert e.value.response["Error"]["Code"] == "SignatureDoesNotMatch"

    with pytest.raises(botocore.exceptions.ClientError) as e:
        sts("ASIAUNKNOWNKEY000000", "x", "y").get_caller_identity()
    assert e.value.response["Error"]["Code"] == "InvalidClientTokenId"


def test_role_needs_iam_getrole_permission(moto: tb.MotoServer, aws: tb.AwsWorld,
                                           web_creds: tb.AwsCreds):
    """The task role may read itself (needed by the login with entity
    details) and nothing else: moto evaluates IAM policies."""
    iam = moto.client("iam", web_creds)
    role = iam.get_role(RoleName=WEB_ROLE)["Role"]
    assert role["Path"] == tb.TRUSTED_ROLE_PATH
    assert {"Key": tb.SERVICE_NAME_TAG, "Value": "web"} in role["Tags"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.list_users()
    assert e.value.response["Error"]["Code"] == "AccessDenied"


@pytest.fixture
def ecs_moto(tmp_path):
    """A moto of its own, auth off, for ECS calls as an admin."""
    m = tb.MotoServer(str(tmp_path / "moto-ecs")).start()
    yield m
    m.stop()


def test_moto_list_tasks_defaults_to_running(ecs_moto: tb.MotoServer):
    """AWS: "The default status filter is RUNNING" (ListTasks without
    desiredStatus lists the tasks whose desired status is RUNNING); plain moto
    lists the STOPPED ones too. The bed's moto answers as AWS does."""
    ecs = ecs_moto.client("ecs")
    cluster = ecs.create_cluster(clusterName="list-default")["cluster"]["clusterArn"]
    ecs.register_task_definition(family="web", containerDefinitions=[
        {"name": "app", "image": "app:latest", "memory": 128}])
    running, stopped = (t["taskArn"] for t in ecs.run_task(
        cluster=cluster, taskDefinition="web", launchType="FARGATE", count=2,
        tags=[{"key": "k", "value": "v"}])["tasks"])
    ecs.stop_task(cluster=cluster, task=stopped, reason="test")

    assert ecs.list_tasks(cluster=cluster)["taskArns"] == [running]
    assert ecs.list_tasks(cluster=cluster, desiredStatus="RUNNING")["taskArns"] == [running]
    assert ecs.list_tasks(cluster=cluster, desiredStatus="STOPPED")["taskArns"] == [stopped]
    # The other filters still apply on top of the default.
    assert ecs.list_tasks(cluster=cluster, family="web")["taskArns"] == [running]
    assert ecs.list_tasks(cluster=cluster, family="other")["taskArns"] == []
    # A stopped task stays known to the rest of the API.
    assert [t["lastStatus"] for t in ecs.describe_tasks(cluster=cluster, tasks=[stopped])["tasks"]] == ["STOPPED"]
    assert ecs.list_tags_for_resource(resourceArn=stopped)["tags"] == [{"key": "k", "value": "v"}]


# ---------------------------------------------------------- oracle login ---

def test_oracle_token_layout(moto: tb.MotoServer, web_creds: tb.AwsCreds):
    """The bearer token has consul-awsauth's layout: four fields, base64
    URL/headers/body, and the iam:GetRole request inside signed headers."""
    token = tb.build_login_bearer_token(web_creds, moto.url)
    raw = json.loads(token)
    assert set(raw) == {"iam_http_request_method", "iam_request_url",
                        "iam_request_headers", "iam_request_body"}
    assert raw["iam_http_request_method"] == "POST"
    assert base64.b64decode(raw["iam_request_body"]) == b"Action=GetCallerIdentity&Version=2011-06-15"
    parts = tb.decode_bearer_token(token)
    assert parts["url"] == moto.url + "/"
    h = parts["headers"]
    assert all(isinstance(v, list) for v in h.values())  # Go http.Header shape
    auth = h["Authorization"][0]
    assert "/us-east-1/sts/aws4_request" in auth
    signed = auth.split("SignedHeaders=")[1].split(",")[0].split(";")
    for name in ("host", "x-amz-date", "x-amz-security-token", "x-consul-iam-getentity-method",
                 "x-consul-iam-getentity-url", "x-consul-iam-getentity-headers",
                 "x-consul-iam-getentity-body"):
        assert name in signed, f"{name} must be covered by the STS signature"
    assert h["X-Consul-Iam-Getentity-Body"] == [
        f"Action=GetRole&RoleName={WEB_ROLE}&Version=2010-05-08"]
    assert h["X-Consul-Iam-Getentity-Url"] == [tb.IAM_GLOBAL_URL]
    inner = json.loads(h["X-Consul-Iam-Getentity-Headers"][0])
    assert "/us-east-1/iam/aws4_request" in inner["Authorization"][0]
    # The untampered STS request is accepted by moto as it is.
    r = _replay_sts(parts, moto)
    assert r.status_code == 200, r.text
    assert f"assumed-role/{WEB_ROLE}/" in r.text


def test_oracle_login_succeeds(consul: tb.ConsulServer, moto: tb.MotoServer,
                               web_creds: tb.AwsCreds):
    meta = {"consul.hashicorp.com/task-id": "0123456789abcdef0123456789abcdef",
            "consul.hashicorp.com/cluster": f"arn:aws:ecs:{tb.REGION}:{tb.ACCOUNT_ID}:cluster/c1"}
    r = consul.login(tb.build_login_bearer_token(web_creds, moto.url), meta=meta)
    assert r.status_code == 200, r.text
    tok = r.json()
    me = consul.token_self(tok["SecretID"])
    assert me.status_code == 200, me.text
    me = me.json()
    assert me["ServiceIdentities"] == [{"ServiceName": "web"}]
    assert me["AuthMethod"] == tb.AUTH_METHOD_NAME
    assert me["Description"] == "token created via login: " + json.dumps(meta, separators=(",", ":"), sort_keys=True)
    # Logout destroys it.
    assert consul.logout(tok["SecretID"]).status_code == 200
    assert consul.token_self(tok["SecretID"]).status_code == 403


def test_oracle_login_other_service_from_tag(consul: tb.ConsulServer, moto: tb.MotoServer,
                                             aws: tb.AwsWorld):
    """The service identity comes from the role's tag, not the role name."""
    creds = aws.assume(API_ROLE, "fedcba9876543210fedcba9876543210")
    r = consul.login(tb.build_login_bearer_token(creds, moto.url))
    assert r.status_code == 200, r.text
    me = consul.token_self(r.json()["SecretID"]).json()
    assert me["ServiceIdentities"] == [{"ServiceName": "api"}]
    consul.logout(r.json()["SecretID"])


def test_service_token_can_register_only_on_existing_node(consul: tb.ConsulServer,
                                                          moto: tb.MotoServer,
                                                          web_creds: tb.AwsCreds):
    """Permissions of a login token, which the control-plane lives with:
    service:write on its service, but no node:write, so the synthetic
    cluster node must exist already (the consul-ecs controller creates it)
    and registrations must use SkipNodeUpdate."""
    secret = consul.login(tb.build_login_bearer_token(web_creds, moto.url)).json()["SecretID"]
    node = f"arn:aws:ecs:{tb.REGION}:{tb.ACCOUNT_ID}:cluster/perm-check"
    reg = {"Node": node, "Address": "10.9.9.9", "SkipNodeUpdate": True,
           "Service": {"ID": "web-perm", "Service": "web", "Port": 8080}}
    r = consul.put("/v1/catalog/register", reg, token=secret)
    assert r.status_code == 403 and "node:write" in r.text, r.text
    consul.must(consul.put("/v1/catalog/register", {
        "Node": node, "Address": "127.0.0.1", "NodeMeta": {"synthetic-node": "true"}}))
    r = consul.put("/v1/catalog/register", reg, token=secret)
    assert r.status_code == 200, r.text
    # Another service's name is refused.
    r = consul.put("/v1/catalog/register", {**reg, "Service": {"ID": "db-x", "Service": "db", "Port": 1}},
                   token=secret)
    assert r.status_code == 403, r.text
    consul.must(consul.put("/v1/catalog/deregister", {"Node": node}))
    consul.logout(secret)


def test_oracle_login_untrusted_role_rejected(consul: tb.ConsulServer, moto: tb.MotoServer,
                                              aws: tb.AwsWorld):
    creds = aws.assume(UNTRUSTED_ROLE, "0123456789abcdef0123456789abcdef")
    r = consul.login(tb.build_login_bearer_token(creds, moto.url))
    assert r.status_code != 200
    # Consul 1.15 answers 500 here (not 403), with the reason in the body.
    assert "is not trusted" in r.text
    assert f"role/untrusted/{UNTRUSTED_ROLE}" in r.text


def _flip_signature(auth: str) -> str:
    head, sig = auth.rsplit("Signature=", 1)
    flipped = ("0" if sig[0] != "0" else "1") + sig[1:]
    return f"{head}Signature={flipped}"


def test_oracle_login_tampered_signature_rejected(consul: tb.ConsulServer, moto: tb.MotoServer,
                                                  web_creds: tb.AwsCreds):
    seen: dict = {}

    def tamper(parts: dict) -> None:
        parts["headers"]["Authorization"] = [_flip_signature(parts["headers"]["Authorization"][0])]
        seen.update(parts)

    r = consul.login(tb.build_login_bearer_token(web_creds, moto.url, tamper=tamper))
    assert r.status_code != 200, r.text
    # Why: moto refuses the replayed request for its signature. (Consul only
    # says "response body is invalid": moto's error is not text/xml.)
    replay = _replay_sts(seen, moto)
    assert replay.status_code == 403 and "SignatureDoesNotMatch" in replay.text, replay.text


def test_oracle_login_tampered_entity_request_rejected(consul: tb.ConsulServer, moto: tb.MotoServer,
                                                       web_creds: tb.AwsCreds):
    """Swapping the embedded iam:GetRole for another (trusted, differently
    tagged) role breaks the STS signature, which covers those headers."""
    def tamper(parts: dict) -> None:
        parts["headers"]["X-Consul-Iam-Getentity-Body"] = [
            f"Action=GetRole&RoleName={API_ROLE}&Version=2010-05-08"]

    r = consul.login(tb.build_login_bearer_token(web_creds, moto.url, tamper=tamper))
    assert r.status_code != 200, r.text


def test_oracle_login_wrong_secret_rejected(consul: tb.ConsulServer, moto: tb.MotoServer,
                                            web_creds: tb.AwsCreds):
    bad = tb.AwsCreds(web_creds.access_key_id, "wrong" + web_creds.secret_access_key[5:],
                      web_creds.session_token)
    r = consul.login(tb.build_login_bearer_token(bad, moto.url, role_name=WEB_ROLE))
    assert r.status_code != 200, r.text


def test_oracle_login_without_entity_rejected(consul: tb.ConsulServer, moto: tb.MotoServer,
                                              web_creds: tb.AwsCreds):
    """EnableIAMEntityDetails is on: the GetEntity headers are required."""
    r = consul.login(tb.build_login_bearer_token(web_creds, moto.url, include_entity=False))
    assert r.status_code != 200
    assert "X-Consul-IAM-GetEntity-Method" in r.text


def test_oracle_login_server_id_header(consul: tb.ConsulServer, moto: tb.MotoServer,
                                       web_creds: tb.AwsCreds):
    name = "iam-ecs-server-id"
    tb.ensure_auth_method(consul, moto.url, name, server_id_header_value="consul.test.local")
    ok = consul.login(tb.build_login_bearer_token(web_creds, moto.url, server_id="consul.test.local"),
                      method=name)
    assert ok.status_code == 200, ok.text
    consul.logout(ok.json()["SecretID"])
    missing = consul.login(tb.build_login_bearer_token(web_creds, moto.url), method=name)
    assert missing.status_code != 200 and "X-Consul-IAM-ServerID" in missing.text
    wrong = consul.login(tb.build_login_bearer_token(web_creds, moto.url, server_id="other"),
                         method=name)
    assert wrong.status_code != 200
