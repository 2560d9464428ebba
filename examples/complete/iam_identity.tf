# connect_identity = "iam" (the default): the roles clients assume to sign the $connect handshake
# (SigV4, service execute-api; the route is AWS_IAM). One for the whole agent fleet (each agent uses its
# agent id as the role session name, which becomes its identity) and one for the Dashboard (its backend
# presigns the URL the browser opens). Who may assume them is yours to decide: here principals of this
# account (trusted_principal_arns narrows it). Both carry exactly the module's agent_policy_json: invoke
# $connect and heartbeat on this stage, nothing else. With connect_identity = "token_authorizer" none of this
# exists (authorizer.tf instead).

locals {
  # Roles are global to the account: the region in the name lets one account run a stack per region.
  client_roles = {
    for role, name in {
      agent     = "${var.name}-agent-${var.region}"
      dashboard = "${var.name}-dashboard-${var.region}"
    } : role => name if local.iam_identity
  }
  # Built from the names, not read from the roles, so that the module's $connect environment is known
  # at plan time (the roles' policies in turn depend on the module's agent_policy_json).
  client_role_arns = {
    for role, name in local.client_roles :
    role => "arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:role/${name}"
  }
  account_root = "arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root"
}

resource "aws_iam_role" "client" {
  for_each = local.client_roles

  name = each.value
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [merge(
      {
        Sid       = "TrustedClients"
        Effect    = "Allow"
        Principal = { AWS = length(var.trusted_principal_arns) > 0 ? var.trusted_principal_arns : [local.account_root] }
        Action    = "sts:AssumeRole"
      },
      # Session names become agent ids: require a well-formed one.
      each.key == "agent" ? { Condition = { StringLike = { "sts:RoleSessionName" = "agent-*" } } } : {},
    )]
  })
}

resource "aws_iam_role_policy" "client" {
  for_each = local.client_roles

  name   = "connect-to-${var.name}-channel"
  role   = aws_iam_role.client[each.key].id
  policy = module.remediation_disconnect.agent_policy_json
}
