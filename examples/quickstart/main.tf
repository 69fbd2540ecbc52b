# Two partner organisations and three API clients, declared as code.
#
# Run it against a local registry with `make demo` from the repository root,
# or by hand:
#   export PARTNER_REGISTRY_ENDPOINT=http://127.0.0.1:8080
#   export PARTNER_REGISTRY_TOKEN=$(partner-registry token create --name ci --role admin)
#   terraform init && terraform apply

terraform {
  required_version = ">= 1.11"
  required_providers {
    partner = {
      source = "partner-registry/partner"
    }
  }
}

variable "registry_endpoint" {
  description = "Base URL of the partner registry; PARTNER_REGISTRY_ENDPOINT when null."
  type        = string
  default     = null
}

variable "registry_token" {
  description = "API token for the registry; PARTNER_REGISTRY_TOKEN when null."
  type        = string
  sensitive   = true
  default     = null
}

provider "partner" {
  endpoint = var.registry_endpoint
  token    = var.registry_token
}

resource "partner_org" "acme" {
  name               = "acme-logistics"
  legal_entity       = "ACME Logistics GmbH"
  technical_owner    = "platform@acme-logistics.example"
  approval_authority = "ciso@example.com"
  commercial_sponsor = "partnerships@example.com"
  contract_id        = "CTR-2026-0042"
  contract_start     = "2026-01-01"
  contract_end       = "2028-12-31"
  business_unit      = "logistics"
  allowed_scopes     = ["shipments:read", "shipments:write", "tracking:read"]
  max_clients        = 5
  labels = {
    tier = "gold"
  }
}

resource "partner_org" "globex" {
  name               = "globex-billing"
  legal_entity       = "Globex Corporation"
  technical_owner    = "api-team@globex.example"
  approval_authority = "finance-approvals@example.com"
  contract_id        = "CTR-2026-0107"
  contract_end       = "2027-12-31"
  allowed_scopes     = ["invoices:read"]
}

resource "partner_client" "acme_shipping" {
  org_id  = partner_org.acme.id
  name    = "shipping-sync"
  purpose = "Nightly synchronisation of shipment orders into ACME's warehouse system"
  owner   = "dev-lead@acme-logistics.example"
  scopes  = ["shipments:read", "shipments:write"]
}

resource "partner_client" "acme_tracking" {
  org_id     = partner_org.acme.id
  name       = "tracking-widget"
  purpose    = "Customer-facing parcel tracking widget on ACME's web shop"
  owner      = "web@acme-logistics.example"
  scopes     = ["tracking:read"]
  expires_at = "2027-06-30T00:00:00Z"
}

resource "partner_client" "globex_invoices" {
  org_id  = partner_org.globex.id
  name    = "invoice-export"
  purpose = "Monthly export of invoices into Globex's accounting platform"
  owner   = "api-team@globex.example"
  scopes  = ["invoices:read"]
}

# Clients that expire within 90 days, read after the clients are applied.
data "partner_clients" "expiring" {
  expiring_within = "2160h"
  depends_on      = [partner_client.acme_shipping, partner_client.acme_tracking, partner_client.globex_invoices]
}

# Warns in every plan and apply while any client expires within 90 days.
# (The data source sits outside the check block: a data source scoped to a
# check block is re-read at every apply, so plans would never be empty.)
check "no_client_expires_within_90_days" {
  assert {
    condition     = length(data.partner_clients.expiring.clients) == 0
    error_message = "Clients expiring within 90 days: ${join(", ", [for c in data.partner_clients.expiring.clients : c.name])}"
  }
}

output "client_ids" {
  description = "Public client identifiers, by client."
  value = {
    acme_shipping   = partner_client.acme_shipping.client_id
    acme_tracking   = partner_client.acme_tracking.client_id
    globex_invoices = partner_client.globex_invoices.client_id
  }
}

output "client_secrets" {
  description = "Client secrets, known only from the apply that created each client."
  sensitive   = true
  value = {
    acme_shipping   = partner_client.acme_shipping.client_secret
    acme_tracking   = partner_client.acme_tracking.client_secret
    globex_invoices = partner_client.globex_invoices.client_secret
  }
}
