variable "expires_at" {
  type = string
  validation {
    condition     = provider::partner::expiry_within_contract(var.expires_at, "2028-12-31")
    error_message = "The client must expire by the end of its contract (2028-12-31)."
  }
}
