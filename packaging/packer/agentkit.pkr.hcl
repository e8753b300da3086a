# A golden AMI with the CodeDeploy agent and agentkit baked in (Amazon Linux 2023 by default).
#   packer validate packaging/packer && packer build -var region=eu-west-1 packaging/packer
# HCL2 for Packer 1.6+ (the amazon-ebs builder is built in there; no `packer init` needed).

variable "region" {
  type    = string
  default = "us-east-1"
}

variable "instance_type" {
  type    = string
  default = "t3.small"
}

variable "agent_generation" {
  type        = string
  default     = "1"
  description = "1: the Ruby agent 1.8.x (most fleets); 2: the Rust agent 2.x"
}

variable "agentkit_source" {
  type        = string
  default     = ""
  description = "the agentkit tree installed with packaging/install.sh (default: this checkout)"
}

locals {
  agentkit_source = var.agentkit_source != "" ? var.agentkit_source : "${path.root}/../.."
}

source "amazon-ebs" "agentkit" {
  region        = var.region
  instance_type = var.instance_type
  ssh_username  = "ec2-user"
  ami_name      = "agentkit-codedeploy-{{timestamp}}"
  source_ami_filter {
    filters = {
      name                = "al2023-ami-2023.*-x86_64"
      virtualization-type = "hvm"
      root-device-type    = "ebs"
    }
    owners      = ["amazon"]
    most_recent = true
  }
  tags = {
    Name     = "agentkit-codedeploy"
    agent    = var.agent_generation
    built_by = "packer"
  }
}

build {
  sources = ["source.amazon-ebs.agentkit"]

  provisioner "file" {
    source      = local.agentkit_source
    destination = "/tmp/agentkit"
  }

  provisioner "shell" {
    script           = "${path.root}/provision.sh"
    environment_vars = ["AGENT_GENERATION=${var.agent_generation}", "REGION=${var.region}"]
    execute_command  = "sudo -E sh -eu '{{ .Path }}'"
  }
}
