# Run with `terraform apply -invoke=action.partner_org_offboard.acme`: revokes
# each client of the org (reporting progress) and then offboards it.
action "partner_org_offboard" "acme" {
  config {
    org = "acme-logistics"
  }
}
