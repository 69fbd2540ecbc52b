resource "partner_org" "example" {
  name               = "example-partner"
  legal_entity       = "Example Partner Ltd"
  technical_owner    = "tech@example-partner.example"
  approval_authority = "ciso@example.com"
  commercial_sponsor = "partnerships@example.com"
  contract_id        = "CTR-2026-0001"
  contract_start     = "2026-01-01"
  contract_end       = "2029-12-31"
  tenant             = "eu-1"
  business_unit      = "retail"
  allowed_scopes     = ["orders:read", "orders:write"]
  max_clients        = 3
  labels = {
    tier = "silver"
  }
}
