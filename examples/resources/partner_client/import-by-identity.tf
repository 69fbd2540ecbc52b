import {
  to       = partner_client.example
  identity = { id = "cli_0123456789abcdef" }
}
