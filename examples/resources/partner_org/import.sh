# An org can be imported by its id or by its name.
terraform import partner_org.example org_0123456789abcdef
terraform import partner_org.example example-partner
