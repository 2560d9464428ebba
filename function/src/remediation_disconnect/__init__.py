"""Remediation WebSocket `$disconnect` handler, optional `$connect` writer, stale-connection sweeper.

stdlib + botocore only.

Entry points (Lambda handler strings):
  remediation_disconnect.handlers.connect      API Gateway WebSocket `$connect` route (optional writer)
  remediation_disconnect.handlers.disconnect   API Gateway WebSocket `$disconnect` route
  remediation_disconnect.handlers.sweep        EventBridge schedule: abnormal-termination cleanup
"""

__version__ = "1.0.0"
