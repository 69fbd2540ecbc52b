//! AutoMTLS as go-plugin does it: the client (Terraform) passes its
//! certificate in PLUGIN_CLIENT_CERT; the plugin makes a fresh self-signed
//! certificate for `localhost`, sends it back in the handshake line, and
//! accepts exactly the client certificate it was given.
//!
//! Terraform's client certificate is self-signed with IsCA=true and an
//! ECDSA P-521 key, which ordinary chain validation rejects, so the client
//! verifier compares the DER exactly and only checks handshake signatures,
//! using aws-lc-rs's verification algorithms (which include
//! ecdsa_secp521r1_sha512). Everything that needs randomness (key
//! generation, the TLS handshake) uses ring: aws-lc seeds its generator
//! with CPU-jitter entropy, which costs ~30 ms at startup.
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, Error, ServerConfig, SignatureScheme};
use std::sync::Arc;

/// The server's certificate and key.
pub struct ServerCert {
    pub der: CertificateDer<'static>,
    pub key: PrivateKeyDer<'static>,
}

/// A fresh self-signed certificate shaped like go-plugin's: CN and SAN
/// `localhost`, CA, usable for server and client auth, valid from 30
/// seconds ago for 30 years, issued by `organization`.
pub fn generate_cert(organization: &str) -> Result<ServerCert, String> {
    use rcgen::{
        BasicConstraints, CertificateParams, DistinguishedName as Dn, DnType,
        ExtendedKeyUsagePurpose as Eku, IsCa, KeyPair, KeyUsagePurpose as Ku,
    };
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
        .map_err(|e| format!("generating the TLS key: {e}"))?;
    let mut p = CertificateParams::new(vec!["localhost".to_string()])
        .map_err(|e| format!("certificate parameters: {e}"))?;
    let mut dn = Dn::new();
    dn.push(DnType::CommonName, "localhost");
    dn.push(DnType::OrganizationName, organization);
    p.distinguished_name = dn;
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![
        Ku::DigitalSignature,
        Ku::KeyEncipherment,
        Ku::KeyAgreement,
        Ku::KeyCertSign,
    ];
    p.extended_key_usages = vec![Eku::ClientAuth, Eku::ServerAuth];
    let now = time::OffsetDateTime::now_utc();
    p.not_before = now - time::Duration::seconds(30);
    p.not_after = now + time::Duration::hours(262_980);
    let mut serial = [0u8; 16];
    random_fill(&mut serial);
    serial[0] &= 0x7f;
    p.serial_number = Some(rcgen::SerialNumber::from_slice(&serial));
    let cert = p
        .self_signed(&key)
        .map_err(|e| format!("signing the certificate: {e}"))?;
    Ok(ServerCert {
        der: cert.der().clone(),
        key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
    })
}

fn random_fill(buf: &mut [u8]) {
    let _ = rustls::crypto::ring::default_provider()
        .secure_random
        .fill(buf);
}

/// Parses the PEM certificate from PLUGIN_CLIENT_CERT.
pub fn parse_client_cert(pem: &str) -> Result<CertificateDer<'static>, String> {
    CertificateDer::from_pem_slice(pem.as_bytes())
        .map_err(|e| format!("PLUGIN_CLIENT_CERT is not a PEM certificate: {e}"))
}

/// Accepts exactly one client certificate, byte for byte.
#[derive(Debug)]
pub struct ExactClientCert {
    cert: CertificateDer<'static>,
    algs: WebPkiSupportedAlgorithms,
}

impl ExactClientCert {
    pub fn new(cert: CertificateDer<'static>, algs: WebPkiSupportedAlgorithms) -> Self {
        ExactClientCert { cert, algs }
    }
}

impl ClientCertVerifier for ExactClientCert {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }
    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, Error> {
        if end_entity.as_ref() == self.cert.as_ref() {
            Ok(ClientCertVerified::assertion())
        } else {
            Err(Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            ))
        }
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algs)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algs)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algs.supported_schemes()
    }
}

/// The server TLS configuration for AutoMTLS (ALPN h2, as gRPC requires).
pub fn server_config(
    client_cert: CertificateDer<'static>,
    cert: &ServerCert,
) -> Result<ServerConfig, String> {
    let verify_algs =
        rustls::crypto::aws_lc_rs::default_provider().signature_verification_algorithms;
    let mut provider = rustls::crypto::ring::default_provider();
    provider.signature_verification_algorithms = verify_algs;
    let provider = Arc::new(provider);
    let verifier = ExactClientCert::new(client_cert, verify_algs);
    let mut cfg = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS versions: {e}"))?
        .with_client_cert_verifier(Arc::new(verifier))
        .with_single_cert(vec![cert.der.clone()], cert.key.clone_key())
        .map_err(|e| format!("TLS certificate: {e}"))?;
    cfg.alpn_protocols = vec![b"h2".to_vec()];
    Ok(cfg)
}
