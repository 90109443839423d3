# One application task on the mesh: an ECS cluster, a network for awsvpc
# tasks, the mesh-task module around an HTTP echo server, and an ECS service.
# Every AWS endpoint can be pointed at one URL (var.aws_endpoint_url) so the
# example also runs against moto.

provider "aws" {
  region = var.region

  skip_credentials_validation = var.aws_endpoint_url != null
  skip_requesting_account_id  = var.aws_endpoint_url != null
  skip_metadata_api_check     = var.aws_endpoint_url != null

  endpoints {
    ec2              = var.aws_endpoint_url
    ecs              = var.aws_endpoint_url
    elbv2            = var.aws_endpoint_url
    iam              = var.aws_endpoint_url
    logs             = var.aws_endpoint_url
    secretsmanager   = var.aws_endpoint_url
    servicediscovery = var.aws_endpoint_url
    sts              = var.aws_endpoint_url
  }
}

resource "aws_ecs_cluster" "this" {
  name = var.name
}

resource "aws_vpc" "this" {
  cidr_block = "10.42.0.0/16"
  tags       = { Name = var.name }
}

resource "aws_subnet" "this" {
  vpc_id     = aws_vpc.this.id
  cidr_block = "10.42.1.0/24"
  tags       = { Name = var.name }
}

resource "aws_security_group" "tasks" {
  name   = "${var.name}-tasks"
  vpc_id = aws_vpc.this.id
}

resource "aws_cloudwatch_log_group" "this" {
  name = "/ecs/${var.name}"
}

module "echo" {
  source = "../../modules/mesh-task"

  family              = "${var.name}-echo"
  port                = 9090
  consul_server_hosts = var.consul_server_hosts

  # Give traffic 5 s to drain on stop; the app's command must then be complete.
  application_shutdown_delay_seconds = 5

  # The service runs on Fargate, which never grants NET_ADMIN: no iptables
  # transparent proxy (only the "split" layout has one; "control-plane"
  # ignores this input).
  enable_transparent_proxy = false

  container_definitions = [{
    name      = "echo"
    image     = "hashicorp/http-echo:1.0"
    essential = true
    command   = ["/http-echo", "-listen=:9090", "-text=hello from the mesh"]
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.this.name
        awslogs-region        = var.region
        awslogs-stream-prefix = "echo"
      }
    }
  }]

  log_configuration = {
    logDriver = "awslogs"
    options = {
      awslogs-group         = aws_cloudwatch_log_group.this.name
      awslogs-region        = var.region
      awslogs-stream-prefix = "mesh"
    }
  }
}

resource "aws_ecs_service" "echo" {
  name            = "${var.name}-echo"
  cluster         = aws_ecs_cluster.this.arn
  task_definition = module.echo.task_definition_arn
  desired_count   = 1
  launch_type     = "FARGATE"
  propagate_tags  = "TASK_DEFINITION"

  network_configuration {
    subnets         = [aws_subnet.this.id]
    security_groups = [aws_security_group.tasks.id]
  }
}
