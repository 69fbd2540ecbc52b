# Orgs whose contract ends within 90 days.
list "partner_org" "ending" {
  provider = partner
  config {
    expiring_within = "2160h"
  }
}
