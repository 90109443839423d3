variable "name" {
  description = "Name prefix of everything this example creates."
  type        = string
  default     = "client-server"
}

variable "region" {
  description = "AWS region."
  type        = string
  default     = "us-east-1"
}

variable "aws_endpoint_url" {
  description = "One endpoint for every AWS API the example uses (e.g. a moto server, http://127.0.0.1:5000). null: the real AWS endpoints. When set, also the mesh tasks' consulLogin.stsEndpoint, so that their login is signed for the same STS."
  type        = string
  default     = null
}

variable "vpc_cidr" {
  description = "CIDR block of the VPC."
  type        = string
  default     = "10.44.0.0/16"
}

variable "subnet_cidr" {
  description = "CIDR block of the one subnet every task gets its ENI in."
  type        = string
  default     = "10.44.1.0/24"
}

variable "consul_ecs_image" {
  description = "consul-ecs image of the control-plane and the controller."
  type        = string
  default     = "ghcr.io/consul-ecs-cpp/consul-ecs:0.1.0"
}

variable "application_shutdown_delay_seconds" {
  description = "Seconds the apps keep running after their task is told to stop, so that traffic drains first (mesh-task's input)."
  type        = number
  default     = 5
}

variable "destroy_grace_period_seconds" {
  description = "The controller module's input: seconds it keeps running on destroy after the mesh services are gone."
  type        = number
  default     = 30
}

# The two applications. The defaults are public images; any image works
# whose command is complete (app-entrypoint replaces the image ENTRYPOINT).

variable "server_image" {
  description = "Image of the server app (listens on port 9090)."
  type        = string
  default     = "hashicorp/http-echo:1.0"
}

variable "server_command" {
  description = "Complete command of the server app."
  type        = list(string)
  default     = ["/http-echo", "-listen=:9090", "-text=hello from the server"]
}

variable "client_image" {
  description = "Image of the client app (calls the server through its upstream, 127.0.0.1:1234)."
  type        = string
  default     = "curlimages/curl:8.10.1"
}

variable "client_command" {
  description = "Complete command of the client app."
  type        = list(string)
  default     = ["/bin/sh", "-c", "while true; do curl -s http://127.0.0.1:1234/; sleep 1; done"]
}

variable "app_health_checks" {
  description = "ECS healthCheck of the server and client containers (keys server, client; null or absent: none). A container with one is health-synced into Consul."
  type        = any
  default     = {}
}
