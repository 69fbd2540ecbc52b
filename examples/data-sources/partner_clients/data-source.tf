resource "partner_org" "example" {
  name               = "listing-partner"
  legal_entity       = "Listing Partner BV"
  technical_owner    = "tech@listing-partner.example"
  approval_authority = "ciso@example.com"
  contract_id        = "CTR-2026-0003"
  contract_end       = "2029-12-31"
  allowed_scopes     = ["catalog:read"]
}

resource "partner_client" "example" {
  org_id  = partner_org.example.id
  name    = "catalog-reader"
  purpose = "Reads the product catalogue for the partner's storefront"
  owner   = "dev@listing-partner.example"
  scopes  = ["catalog:read"]
}

# Every active client of the org.
data "partner_clients" "active" {
  org_id     = partner_org.example.id
  status     = "active"
  depends_on = [partner_client.example]
}

output "active_client_names" {
  value = [for c in data.partner_clients.active.clients : c.name]
}
