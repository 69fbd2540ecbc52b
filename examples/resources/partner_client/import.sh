# A client can be imported by its id or by its public client_id.
# The secret cannot be recovered: after import, client_secret is null.
terraform import partner_client.example cli_0123456789abcdef
terraform import partner_client.example pc_0123456789abcdef
