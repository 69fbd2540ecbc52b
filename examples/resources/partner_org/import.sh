# An org can be imported by its id or by its name, here or as the id of an
# `import` block (`import { to = partner_org.example, id = "example-partner" }`).
terraform import partner_org.example org_0123456789abcdef
terraform import partner_org.example example-partner
