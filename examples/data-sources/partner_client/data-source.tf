resource "partner_org" "example" {
  name               = "client-lookup-partner"
  legal_entity       = "Client Lookup Partner SA"
  technical_owner    = "tech@client-lookup-partner.example"
  approval_authority = "ciso@example.com"
  contract_id        = "CTR-2026-0004"
  contract_end       = "2029-12-31"
  allowed_scopes     = ["catalog:read"]
}

resource "partner_client" "example" {
  org_id  = partner_org.example.id
  name    = "catalog-reader"
  purpose = "Reads the product catalogue for the partner's storefront"
  owner   = "dev@client-lookup-partner.example"
  scopes  = ["catalog:read"]
}

# Look a client up by its org and name (or by id, or by client_id).
data "partner_client" "reader" {
  org_id = partner_org.example.id
  name   = partner_client.example.name
}

output "reader_last_used_at" {
  value = data.partner_client.reader.last_used_at
}
