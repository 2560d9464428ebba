# The resource policy of the module's agent-events bus (presence.events.create_bus), alone in this file
# on purpose: hashicorp/aws 3.39.0, the provider the offline toolchain runs in place of the declared
# >= 5.76 (README, "Requirements"), has no aws_cloudwatch_event_bus_policy (added in 3.47.0) and
# refuses the whole configuration for it, even with count = 0. Every offline terraform run therefore
# uses a copy of the tree in which this file is replaced by standin/eventbus_policy.tf (built by
# scripts/standin_tree.py); tflint, checkov, `terraform fmt` and `make compat` (hashicorp/aws 6.69.1's
# schema) read this file. Keep it to this one resource; its document is local.agent_bus_policy_json
# (events.tf), which the tests assert through the output agent_events_bus_policy_json.
resource "aws_cloudwatch_event_bus_policy" "agents" {
  count = local.create_agent_bus ? 1 : 0

  event_bus_name = aws_cloudwatch_event_bus.agents[0].name
  policy         = local.agent_bus_policy_json
}
