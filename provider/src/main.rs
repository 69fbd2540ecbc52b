//! terraform-provider-partner: started by Terraform, or by hand with --debug.
use terraform_provider_partner::provider::{INFO, PartnerProvider};

fn main() {
    std::process::exit(tfplugin::serve(PartnerProvider, INFO));
}
