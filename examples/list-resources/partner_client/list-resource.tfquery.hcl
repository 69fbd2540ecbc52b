# Clients nobody has used for 90 days: candidates for revocation.
list "partner_client" "abandoned" {
  provider = partner
  config {
    unused_for = "2160h"
  }
}

# Every client of one org whose owner left the team.
list "partner_client" "orphaned" {
  provider = partner
  config {
    org_id = "org_0123456789abcdef"
    owner  = "former-lead@acme-logistics.example"
  }
}
