"""The ECS agent emulator serves the documented shapes."""
from __future__ import annotations

import json
import re
import subprocess
import sys

import boto3
import pytest
import requests

from conftest import APP, CONTROL_PLANE, DATAPLANE, WEB_ROLE
from consul_ecs_testbed import bed as tb
from consul_ecs_testbed.ecs_agent_emulator import EcsAgentEmulator

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


def test_fargate_task_metadata_shape(emulator: EcsAgentEmulator, make_task):
    t = make_task(availability_zone="us-east-1b", ip="10.20.30.40")
    env = emulator.env_for(t, CONTROL_PLANE)
    task = requests.get(env["ECS_CONTAINER_METADATA_URI_V4"] + "/task", timeout=5).json()
    assert task["Cluster"] == t.cluster and task["Cluster"].startswith("arn:aws:ecs:")
    assert task["TaskARN"] == f"arn:aws:ecs:us-east-1:{tb.ACCOUNT_ID}:task/{t.cluster_name}/{t.task_id}"
    assert re.fullmatch(r"[0-9a-f]{32}", t.task_id)
    for k in ("Family", "Revision", "DesiredStatus", "KnownStatus", "Limits", "PullStartedAt",
              "PullStoppedAt", "AvailabilityZone", "LaunchType", "Containers"):
        assert k in task, k
    assert task["LaunchType"] == "FARGATE" and task["AvailabilityZone"] == "us-east-1b"
    names = [c["Name"] for c in task["Containers"]]
    assert names == [CONTROL_PLANE, DATAPLANE, APP]
    c = {c["Name"]: c for c in task["Containers"]}
    app = c[APP]
    for k in ("DockerId", "Name", "DockerName", "Image", "ImageID", "Labels", "DesiredStatus",
              "KnownStatus", "Limits", "CreatedAt", "StartedAt", "Type", "ContainerARN", "Networks"):
        assert k in app, k
    assert app["Labels"]["com.amazonaws.ecs.task-arn"] == t.task_arn
    assert app["Health"]["status"] == "HEALTHY" and ISO.match(app["Health"]["statusSince"])
    assert "Health" not in c[CONTROL_PLANE]  # no ECS health check defined
    net = app["Networks"][0]
    assert net["NetworkMode"] == "awsvpc" and net["IPv4Addresses"] == ["10.20.30.40"]
    assert app["DockerId"].startswith(t.task_id + "-")
    # The container endpoint is that container.
    me = requests.get(env["ECS_CONTAINER_METADATA_URI_V4"], timeout=5).json()
    assert me["Name"] == CONTROL_PLANE and me["DockerId"] == t.containers[CONTROL_PLANE].docker_id


def test_ec2_task_metadata_shape(emulator: EcsAgentEmulator, make_task):
    t = make_task(cluster="my-ec2-cluster", region="us-west-2", service_name="web-svc")
    task = requests.get(emulator.metadata_uri(t, APP) + "/task", timeout=5).json()
    assert task["Cluster"] == "my-ec2-cluster"
    assert task["LaunchType"] == "EC2" and task["ServiceName"] == "web-svc" and "VPCID" in task
    assert task["TaskARN"] == f"arn:aws:ecs:us-west-2:{tb.ACCOUNT_ID}:task/my-ec2-cluster/{t.task_id}"
    assert t.cluster_arn == f"arn:aws:ecs:us-west-2:{tb.ACCOUNT_ID}:cluster/my-ec2-cluster"
    assert re.fullmatch(r"[0-9a-f]{64}", task["Containers"][0]["DockerId"])


def test_control_api_changes_health_and_status(emulator: EcsAgentEmulator, make_task):
    t = make_task()
    uri = emulator.metadata_uri(t, CONTROL_PLANE) + "/task"

    def app():
        return {c["Name"]: c for c in requests.get(uri, timeout=5).json()["Containers"]}

    r = requests.post(f"{emulator.url}/_emulator/tasks/{t.task_id}/containers/{APP}",
                      json={"health": "UNHEALTHY"}, timeout=5)
    assert r.status_code == 200 and r.json()["Health"]["status"] == "UNHEALTHY"
    assert app()[APP]["Health"]["status"] == "UNHEALTHY"
    requests.post(f"{emulator.url}/_emulator/tasks/{t.task_id}/containers/{DATAPLANE}",
                  json={"knownStatus": "STOPPED"}, timeout=5).raise_for_status()
    dp = app()[DATAPLANE]
    assert dp["KnownStatus"] == "STOPPED" and dp["ExitCode"] == 0 and "FinishedAt" in dp
    bad = requests.post(f"{emulator.url}/_emulator/tasks/{t.task_id}/containers/{APP}",
                        json={"health": "GREAT"}, timeout=5)
    assert bad.status_code == 400
    assert requests.get(f"{emulator.url}/v4/nope/task", timeout=5).status_code == 404


def test_credentials_endpoint_serves_working_task_role_credentials(emulator: EcsAgentEmulator,
                                                                  make_task, moto):
    t = make_task()
    env = emulator.env_for(t, CONTROL_PLANE)
    host = env["CONSUL_ECS_CONTAINER_CREDENTIALS_HOST"]
    c = requests.get(f"http://{host}{env['AWS_CONTAINER_CREDENTIALS_RELATIVE_URI']}", timeout=10).json()
    assert set(c) == {"AccessKeyId", "SecretAccessKey", "Token", "Expiration", "RoleArn"}
    assert c["RoleArn"].endswith(f":role/consul-ecs/{WEB_ROLE}") and ISO.match(c["Expiration"])
    sts = boto3.client("sts", region_name=tb.REGION, endpoint_url=moto.url,
                       aws_access_key_id=c["AccessKeyId"], aws_secret_access_key=c["SecretAccessKey"],
                       aws_session_token=c["Token"])
    assert sts.get_caller_identity()["Arn"].endswith(f":assumed-role/{WEB_ROLE}/{t.task_id}")
    r = requests.get(f"http://{host}/v2/credentials/00000000-0000-0000-0000-000000000000", timeout=5)
    assert r.status_code == 400


def test_cli_mode(tmp_path):
    spec = {"cluster": "demo", "taskId": "a" * 32, "ip": "10.0.0.7",
            "containers": [{"name": "app", "health": "HEALTHY"}, {"name": "consul-ecs-control-plane"}],
            "credentials": {"AccessKeyId": "AKIAEXAMPLE", "SecretAccessKey": "s", "Token": ""}}
    (tmp_path / "task.json").write_text(json.dumps(spec))
    port = tb.free_port()
    p = subprocess.Popen([sys.executable, "-m", "consul_ecs_testbed.ecs_agent_emulator",
                          "--port", str(port), "--task-file", str(tmp_path / "task.json"),
                          "--env-file", str(tmp_path / "env.json")],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        tb.wait_until(lambda: (tmp_path / "env.json").exists(), 15, what="emulator env file")
        out = json.loads((tmp_path / "env.json").read_text())
        env = out["tasks"]["a" * 32]["consul-ecs-control-plane"]
        task = requests.get(env["ECS_CONTAINER_METADATA_URI_V4"] + "/task", timeout=5).json()
        assert task["Cluster"] == "demo" and task["Containers"][0]["Networks"][0]["IPv4Addresses"] == ["10.0.0.7"]
        creds = requests.get(f"http://127.0.0.1:{port}{env['AWS_CONTAINER_CREDENTIALS_RELATIVE_URI']}",
                             timeout=5).json()
        assert creds["AccessKeyId"] == "AKIAEXAMPLE"
    finally:
        p.terminate()
        p.wait(10)


def test_stop_task_follows_the_ecs_stop_sequence(emulator: EcsAgentEmulator, make_task):
    t = make_task(register_node=False)
    uri = emulator.env_for(t, CONTROL_PLANE)["ECS_CONTAINER_METADATA_URI_V4"] + "/task"
    emulator.stop_task(t.task_id)
    task = requests.get(uri, timeout=5).json()
    # StopTask: desired STOPPED everywhere, nothing has exited yet.
    assert task["DesiredStatus"] == "STOPPED" and task["KnownStatus"] == "RUNNING"
    assert {c["DesiredStatus"] for c in task["Containers"]} == {"STOPPED"}
    assert {c["KnownStatus"] for c in task["Containers"]} == {"RUNNING"}
    emulator.container_exited(t.task_id, DATAPLANE, exit_code=137)
    by = {c["Name"]: c for c in requests.get(uri, timeout=5).json()["Containers"]}
    assert by[DATAPLANE]["KnownStatus"] == "STOPPED" and by[DATAPLANE]["ExitCode"] == 137
    assert by[DATAPLANE]["Health"]["status"] == "HEALTHY", "the last Health is kept"
    assert by[APP]["KnownStatus"] == "RUNNING"
    emulator.container_exited(t.task_id, APP)
    emulator.container_exited(t.task_id, CONTROL_PLANE)
    assert requests.get(uri, timeout=5).json()["KnownStatus"] == "STOPPED"
    # The control API does the same.
    t2 = make_task(register_node=False)
    r = requests.post(f"{emulator.url}/_emulator/tasks/{t2.task_id}/stop", timeout=5)
    assert r.status_code == 200 and r.json()["DesiredStatus"] == "STOPPED"


@pytest.mark.parametrize("mode", ["hang", "truncate", "truncated_json"])
def test_fault_modes(emulator: EcsAgentEmulator, make_task, mode):
    t = make_task(register_node=False)
    uri = emulator.env_for(t, CONTROL_PLANE)["ECS_CONTAINER_METADATA_URI_V4"] + "/task"
    prefix = uri[len(emulator.url):]
    emulator.fault_path(prefix, mode)
    try:
        if mode == "hang":
            with pytest.raises(requests.exceptions.ReadTimeout):
                requests.get(uri, timeout=1)
        elif mode == "truncate":
            with pytest.raises(requests.exceptions.RequestException):
                requests.get(uri, timeout=5)
        else:
            r = requests.get(uri, timeout=5)
            assert r.status_code == 200
            with pytest.raises(ValueError):
                json.loads(r.text)
    finally:
        emulator.fault_path(prefix, None)
    assert requests.get(uri, timeout=5).json()["TaskARN"] == t.task_arn
