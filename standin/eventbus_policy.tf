# OFFLINE STAND-IN for ../eventbus_policy.tf: NOT part of the module users run.
#
# What: in the copies of the tree that the offline toolchain validates, tests and applies (make
# validate, tf-test, iam-lint, e2e, matrix, demo), scripts/standin_tree.py replaces the module's
# eventbus_policy.tf with this file. It carries the same count and the same inputs (bus name and
# policy document, local.agent_bus_policy_json) as a terraform_data, so plans, tests and the emulator
# see the same wiring, but no policy is put on the bus.
# Why: those runs execute hashicorp/aws 3.39.0 (the only sha256-verifiable release reachable offline)
# in place of the declared >= 5.76; 3.39.0 has no aws_cloudwatch_event_bus_policy (added in 3.47.0)
# and rejects any configuration naming it ("Invalid resource type", even with count = 0), and its
# aws_cloudwatch_event_permission can only grant, never Deny.
# Users' plans with hashicorp/aws >= 5.76 create the real aws_cloudwatch_event_bus_policy.
# tests/compat/test_standin_tree.py keeps both files equivalent (count, bus, document).
resource "terraform_data" "agents_bus_policy" {
  count = local.create_agent_bus ? 1 : 0

  input = {
    event_bus_name = aws_cloudwatch_event_bus.agents[0].name
    policy         = local.agent_bus_policy_json
  }
}
