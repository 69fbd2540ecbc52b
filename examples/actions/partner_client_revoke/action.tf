# Run with `terraform apply -invoke=action.partner_client_revoke.leaked`.
action "partner_client_revoke" "leaked" {
  config {
    client = "acme-logistics/legacy-export"
  }
}
