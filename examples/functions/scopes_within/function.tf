variable "client_scopes" {
  type = set(string)
}

check "client_scopes_allowed" {
  assert {
    condition     = provider::partner::scopes_within(var.client_scopes, data.partner_org.acme.allowed_scopes)
    error_message = "The client asks for scopes acme-logistics is not allowed."
  }
}

data "partner_org" "acme" {
  name = "acme-logistics"
}
