resource "partner_org" "example" {
  name               = "lookup-partner"
  legal_entity       = "Lookup Partner AG"
  technical_owner    = "tech@lookup-partner.example"
  approval_authority = "ciso@example.com"
  contract_id        = "CTR-2026-0002"
  contract_end       = "2029-12-31"
  allowed_scopes     = ["catalog:read"]
}

# Look an org up by name (or by id).
data "partner_org" "by_name" {
  name = partner_org.example.name
}

output "approval_authority" {
  value = data.partner_org.by_name.approval_authority
}
