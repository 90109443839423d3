variable "name" {
  description = "Name prefix of everything this example creates."
  type        = string
  default     = "consul-mgw"
}

variable "region" {
  description = "AWS region."
  type        = string
  default     = "us-east-1"
}

variable "aws_endpoint_url" {
  description = "One endpoint for every AWS API the example uses (e.g. a moto server, http://127.0.0.1:5000). null: the real AWS endpoints."
  type        = string
  default     = null
}

variable "lb_ingress_rule_cidr_blocks" {
  description = "Who may reach the mesh gateways' WAN port (the other datacenter's gateways and servers)."
  type        = list(string)
  default     = ["0.0.0.0/0"]
}
