# The shell commands of the two containers. Both read the task's IPv4 address
# from the ECS task metadata (curl and jq of the Consul image).

locals {
  task_ipv4 = "ECS_IPV4=$(curl -s \"$ECS_CONTAINER_METADATA_URI_V4\" | jq -r '.Networks[0].IPv4Addresses[0]')"

  # Each item is one `-hcl` snippet of the agent's configuration.
  server_hcl = concat(
    [
      "node_name = ${jsonencode(local.node_name)}",
      "datacenter = ${jsonencode(var.datacenter)}",
      "connect { enabled = true }",
      "enable_central_service_config = true",
    ],
    var.tls ? [
      "ca_file = \"/consul/consul-agent-ca.pem\"",
      "cert_file = \"/consul/${var.datacenter}-server-consul-0.pem\"",
      "key_file = \"/consul/${var.datacenter}-server-consul-0-key.pem\"",
      "auto_encrypt = { allow_tls = true }",
      local.consul_1_14 ? "ports { https = 8501, grpc_tls = 8503 }" : "ports { https = 8501, grpc = 8502 }",
      "verify_incoming_rpc = true",
      "verify_outgoing = true",
      "verify_server_hostname = true",
      ] : [
      "ports { grpc = 8502 }",
    ],
    var.acls ? [
      "acl { enabled = true, default_policy = \"deny\", down_policy = \"extend-cache\", enable_token_persistence = true }",
    ] : [],
    var.acls && local.mesh_gateway_wan_federation ? ["acl { enable_token_replication = true }"] : [],
    var.acls && var.replication_token != "" ? ["acl { tokens { replication = ${jsonencode(var.replication_token)} } }"] : [],
    var.primary_datacenter != "" ? ["primary_datacenter = ${jsonencode(var.primary_datacenter)}"] : [],
    length(var.retry_join_wan) > 0 ? ["retry_join_wan = ${jsonencode(var.retry_join_wan)}"] : [],
    local.mesh_gateway_wan_federation ? ["connect { enable_mesh_gateway_wan_federation = true }"] : [],
    length(var.primary_gateways) > 0 ? ["primary_gateways = ${jsonencode(var.primary_gateways)}"] : [],
    var.enable_cluster_peering ? ["peering { enabled = true }"] : [],
  )

  # The bootstrap (initial management) token is expanded by the shell from
  # CONSUL_HTTP_TOKEN, which ECS injects from Secrets Manager: it never
  # appears in the task definition. `master` is its name before Consul 1.11
  # (still accepted); the version check is the image tag's.
  acl_token_key = local.consul_1_14 ? "initial_management" : "master"
  acl_token_arg = "-hcl \"acl { tokens { ${local.acl_token_key} = \\\"$CONSUL_HTTP_TOKEN\\\", agent = \\\"$CONSUL_HTTP_TOKEN\\\" } }\""

  consul_server_command = join(" \\\n  ", concat(
    ["${local.task_ipv4}\nexec consul agent -server -bootstrap -ui -advertise \"$ECS_IPV4\" -client 0.0.0.0 -data-dir /tmp/consul-data"],
    [for h in local.server_hcl : "-hcl '${replace(h, "'", "'\\''")}'"],
    var.acls ? [local.acl_token_arg] : [],
  ))

  # The server certificate is made at start, because its SANs hold the
  # task's IP address. The CA key is removed from the shared volume once the
  # certificate exists (the server needs only the CA certificate).
  tls_init_command = join("\n", [
    local.task_ipv4,
    "cd /consul",
    "printf '%s\\n' \"$CONSUL_CACERT_PEM\" > ./consul-agent-ca.pem",
    "printf '%s\\n' \"$CONSUL_CAKEY\" > ./consul-agent-ca-key.pem",
    join(" \\\n  ", concat(
      [
        "consul tls cert create -server",
        "-node=${jsonencode(local.node_name)}",
        "-dc=${jsonencode(var.datacenter)}",
        "-additional-ipaddress=\"$ECS_IPV4\"",
        "-additional-dnsname=${jsonencode("${var.name}.${local.service_discovery_namespace}")}",
      ],
      [for n in var.additional_dns_names : "-additional-dnsname=${jsonencode(n)}"],
    )),
    "rm -f ./consul-agent-ca-key.pem",
  ])
}
