//! Test harness for driving real Terraform against the real provider and backend.
