provider "partner" {
  # Else PARTNER_REGISTRY_ENDPOINT, else http://127.0.0.1:8080.
  endpoint = "http://127.0.0.1:8080"
  # Else PARTNER_REGISTRY_TOKEN. Prefer the environment variable in CI.
  # token = var.registry_token
  # Sent as X-Change-Ref so the registry's audit trail names the change.
  change_ref = "https://git.example/partners/pull/42"
}
