# Each input converted to its object type, every optional() default filled in.

output "table" {
  description = "var.table with its defaults."
  value       = var.table
}

output "deployment" {
  description = "var.deployment with its defaults."
  value       = var.deployment
}

output "sweeper" {
  description = "var.sweeper with its defaults."
  value       = var.sweeper
}

output "alarms" {
  description = "var.alarms with its defaults."
  value       = var.alarms
}

output "connect" {
  description = "var.connect with its defaults."
  value       = var.connect
}

output "presence" {
  description = "var.presence with its defaults."
  value       = var.presence
}

output "functions" {
  description = "var.functions with its defaults."
  value       = var.functions
}
