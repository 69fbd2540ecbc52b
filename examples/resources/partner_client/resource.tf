resource "partner_org" "example" {
  name               = "example-partner"
  legal_entity       = "Example Partner Ltd"
  technical_owner    = "tech@example-partner.example"
  approval_authority = "ciso@example.com"
  contract_id        = "CTR-2026-0001"
  contract_end       = "2029-12-31"
  allowed_scopes     = ["orders:read", "orders:write"]
}

resource "partner_client" "example" {
  org_id     = partner_org.example.id
  name       = "order-sync"
  purpose    = "Synchronises orders from the partner's ERP system"
  owner      = "integrations@example-partner.example"
  scopes     = ["orders:read"]
  expires_at = "2029-06-30T23:59:59Z"
}

output "client_id" {
  value = partner_client.example.client_id
}

output "client_secret" {
  value     = partner_client.example.client_secret
  sensitive = true
}
