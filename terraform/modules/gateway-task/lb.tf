# Optional network load balancer in front of the gateway: a TCP listener on
# the WAN port forwarding to the gateway tasks' LAN port (IP targets). Its DNS
# name becomes the gateway's WAN address. The security group is the gateway
# tasks' own (an NLB passes traffic through).

resource "aws_lb" "this" {
  count              = var.lb_enabled ? 1 : 0
  name               = local.service_name
  internal           = false
  load_balancer_type = "network"
  subnets            = var.lb_subnets
  tags               = var.tags
}

resource "aws_lb_target_group" "this" {
  count       = var.lb_enabled ? 1 : 0
  name        = local.service_name
  port        = local.wan_port
  protocol    = "TCP"
  target_type = "ip"
  vpc_id      = var.lb_vpc_id
  # Upstream's value: long enough for connections through a stopping
  # gateway to finish.
  deregistration_delay = 120
  tags                 = var.tags

  health_check {
    protocol = "TCP"
  }
}

resource "aws_lb_listener" "this" {
  count             = var.lb_enabled ? 1 : 0
  load_balancer_arn = aws_lb.this[0].arn
  port              = local.wan_port
  protocol          = "TCP"
  tags              = var.tags

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.this[0].arn
  }
}

resource "aws_security_group" "this" {
  count       = local.lb_security_group ? 1 : 0
  name        = local.service_name
  description = "Security group for ${local.service_name}" # upstream's: a change forces a replacement
  vpc_id      = var.lb_vpc_id
  tags        = var.tags
}

# A security group made by Terraform has no egress rule: the gateway needs
# to reach the other datacenters and the Consul servers.
resource "aws_security_group_rule" "lb_egress_rule" {
  count             = local.lb_security_group ? 1 : 0
  type              = "egress"
  description       = "Egress rule for ${local.service_name}" # upstream's, as the group's
  from_port         = 0
  to_port           = 0
  protocol          = "-1"
  cidr_blocks       = ["0.0.0.0/0"]
  ipv6_cidr_blocks  = ["::/0"]
  security_group_id = aws_security_group.this[0].id
}

resource "aws_security_group_rule" "lb_ingress_rule" {
  count       = var.lb_enabled && (var.lb_create_security_group || var.lb_modify_security_group) ? 1 : 0
  type        = "ingress"
  description = "Ingress rule for ${local.service_name}" # upstream's, as the group's
  # The group is the tasks' and the NLB keeps client addresses: traffic
  # arrives on the container port (upstream opens wan_port, which differs
  # when wan_port is set).
  from_port         = local.lan_port
  to_port           = local.lan_port
  protocol          = "tcp"
  cidr_blocks       = var.lb_ingress_rule_cidr_blocks
  security_group_id = var.lb_create_security_group ? aws_security_group.this[0].id : var.lb_modify_security_group_id
}
