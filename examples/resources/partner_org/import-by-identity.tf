import {
  to       = partner_org.example
  identity = { id = "org_0123456789abcdef" }
}
