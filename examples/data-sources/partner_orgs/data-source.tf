resource "partner_org" "example" {
  name               = "renewal-partner"
  legal_entity       = "Renewal Partner Oy"
  technical_owner    = "tech@renewal-partner.example"
  approval_authority = "ciso@example.com"
  contract_id        = "CTR-2026-0005"
  contract_end       = "2029-12-31"
  allowed_scopes     = ["catalog:read"]
}

# Orgs whose contract ends within 90 days: time to renew or offboard.
data "partner_orgs" "ending_soon" {
  contract_ending_within = "2160h"
  depends_on             = [partner_org.example]
}

output "contracts_to_renew" {
  value = [for o in data.partner_orgs.ending_soon.orgs : "${o.name} (${o.contract_end})"]
}
