//! terraform-provider-partner: started by Terraform, or by hand with --debug.
fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let code = terraform_provider_partner::protocol::serve::main(&args);
    std::process::exit(code);
}
