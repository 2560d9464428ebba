# Private submodule of the root module, without resources (and without a README: it is internal, not
# part of the module's interface). It converts the root module's object inputs, which are declared
# `type = any` there, to their object types, so that optional() fills in the defaults:
#
#   root variables.tf   type = any: the caller's value as written, unknown attribute names included;
#                       every rule (names, types, values) is a validation block there, because only
#                       a variable's own validations see the caller's value during `terraform validate`
#   this module         the object types with their optional() defaults, no validations
#   root main.tf        locals table, deployment, sweeper, alarms, connect, presence, functions =
#                       module.settings.<name>; the root never reads var.<name> of these inputs
#
# An attribute added here must be added to the accepted names (and types, and description) of the
# root variable too: tests/inputs.tftest.hcl (run every_attribute_is_accepted_and_kept) and
# tests/validation/test_object_inputs.py (scripts/input_probes.py) fail until both agree.
