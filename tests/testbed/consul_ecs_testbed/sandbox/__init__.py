"""The mesh sandbox (`make demo`, docs/sandbox.md): an emulated ECS cluster
on this machine (ecs_sandbox, runtime), the client-server example applied
against moto and run (mesh), the demo's scenario (scenario) and its timings
(taskdefs). What runs inside the tasks stays in sandbox/ (apps/,
dataplane.py, container_init.py)."""
