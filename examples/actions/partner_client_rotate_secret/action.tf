ephemeral "partner_client_secret" "next" {}

# Run with `terraform apply -invoke=action.partner_client_rotate_secret.shipping`,
# or from a resource's action_trigger.
action "partner_client_rotate_secret" "shipping" {
  config {
    client        = "acme-logistics/shipping-sync"
    grace_period  = "1h"
    client_secret = ephemeral.partner_client_secret.next.value
  }
}
