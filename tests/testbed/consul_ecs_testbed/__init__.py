"""The test bed of consul-ecs, one package for the end-to-end suite
(tests/e2e), the mesh sandbox (sandbox/, `make demo`) and the benchmarks
(bench/).

Modules:
  bed                 Consul and moto as processes, IAM set-up, the aws-iam
                      auth method, the pure-Python login oracle, wait helpers
  suite               the names and config the suite, the sandbox and the
                      benchmarks share (task roles, container names, base config)
  ecs_agent_emulator  the ECS agent: task metadata v4, credentials, control API
  moto_server         moto's server with the fixes the bed needs
  fault_proxy         a TCP proxy that passes, refuses, hangs or cuts
  recording_proxy     HTTP and gRPC proxies that record requests to Consul
  dns_server          a tiny authoritative DNS server
  podman_task         ECS tasks as podman pods
  terraform_bed       OpenTofu / Terraform against moto
  sandbox             the mesh sandbox: an emulated ECS cluster on this machine

The package drives files of its checkout (build/consul-ecs, terraform/,
image/, sandbox/'s payloads), so it is installed editable from it
(scripts/setup.sh).
"""
