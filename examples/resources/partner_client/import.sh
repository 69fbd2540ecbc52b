# A client can be imported by its id, by its public client_id, or as
# ORG_NAME/CLIENT_NAME.
#
# The secret cannot be recovered: after import, client_secret is null.
# Arguments that only Terraform keeps (rotation_triggers, renew_before,
# rotation_grace_period, client_secret_wo_version) are not in the registry:
# the first apply after an import records them in state, adopting
# rotation_triggers without rotating the imported client's secret; setting
# client_secret_wo_version rotates to the supplied secret.
terraform import partner_client.example cli_0123456789abcdef
terraform import partner_client.example pc_0123456789abcdef
terraform import partner_client.example acme-logistics/shipping-sync
