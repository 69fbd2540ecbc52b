variable "gateway_client_id" {
  type = string
  validation {
    condition     = can(provider::partner::parse_client_id(var.gateway_client_id))
    error_message = "gateway_client_id must be a client_id (pc_…), not a record id or a secret."
  }
}
