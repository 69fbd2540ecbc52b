resource "partner_org" "example" {
  name               = "secretless-partner"
  legal_entity       = "Secretless Partner Oy"
  technical_owner    = "tech@secretless-partner.example"
  approval_authority = "ciso@example.com"
  contract_id        = "CTR-2026-0004"
  contract_end       = "2029-12-31"
  allowed_scopes     = ["events:write"]
}

# A fresh secret each run, never written to plan or state.
ephemeral "partner_client_secret" "example" {
  length = 48
}

resource "partner_client" "example" {
  org_id  = partner_org.example.id
  name    = "event-publisher"
  purpose = "Publishes shipment events to the partner's webhook relay"
  owner   = "integrations@secretless-partner.example"
  scopes  = ["events:write"]

  # The registry stores only a keyed hash of this value; raise the version
  # to roll out a new secret (the previous one keeps working for the grace
  # period). Deliver the same value to the partner in the same run, e.g.
  # through a secrets manager's write-only argument.
  client_secret_wo         = ephemeral.partner_client_secret.example.value
  client_secret_wo_version = 1
  rotation_grace_period    = "24h"
  renew_before             = "720h"
}
