"""Remediation WebSocket connection registry: `$disconnect`, `$connect` writer, sweeper, agent presence.

stdlib + botocore only.

Entry points (Lambda handler strings; lambda_entry wraps the handlers of the same names with a
cheaper cold start, see its docstring):
  remediation_registry.lambda_entry.connect      API Gateway WebSocket `$connect` route (optional writer)
  remediation_registry.lambda_entry.disconnect   API Gateway WebSocket `$disconnect` route
  remediation_registry.lambda_entry.sweep        EventBridge schedule: abnormal-termination cleanup
  remediation_registry.lambda_entry.presence     presence checker: SQS grace/probe messages, reconciler tick
  remediation_registry.lambda_entry.announce     presence table stream -> agent online/offline events
"""

__version__ = "1.0.0"
