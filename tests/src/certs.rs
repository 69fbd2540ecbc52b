//! A throwaway certificate authority for TLS tests: a CA, certificates for
//! the registry (127.0.0.1 and localhost) and for clients, as PEM files.

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair,
};
use std::path::PathBuf;
use tempfile::TempDir;

/// A certificate and its key, as files.
#[derive(Debug, Clone)]
pub struct CertFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// A CA made for one test, with its files in a directory of its own.
pub struct TestCa {
    dir: TempDir,
    issuer: CertifiedIssuer<'static, KeyPair>,
    /// The CA certificate (PEM), and the file holding it.
    pub pem: String,
    pub file: PathBuf,
}

impl TestCa {
    pub fn new(name: &str) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate().expect("CA key"))
            .expect("CA certificate");
        let pem = issuer.pem();
        let file = dir.path().join(format!("{name}.pem"));
        std::fs::write(&file, &pem).expect("CA file");
        TestCa {
            dir,
            issuer,
            pem,
            file,
        }
    }

    /// A certificate for the registry on loopback, written as `<stem>.pem`
    /// and `<stem>.key`.
    pub fn server(&self, stem: &str) -> CertFiles {
        self.issue(
            stem,
            vec!["127.0.0.1".into(), "localhost".into()],
            ExtendedKeyUsagePurpose::ServerAuth,
        )
    }

    /// A client certificate (for mutual TLS) named `stem`.
    pub fn client(&self, stem: &str) -> CertFiles {
        self.issue(stem, Vec::new(), ExtendedKeyUsagePurpose::ClientAuth)
    }

    fn issue(&self, stem: &str, names: Vec<String>, usage: ExtendedKeyUsagePurpose) -> CertFiles {
        let mut params = CertificateParams::new(names).expect("certificate params");
        params.distinguished_name.push(DnType::CommonName, stem);
        params.extended_key_usages = vec![usage];
        let key = KeyPair::generate().expect("key");
        let cert = params.signed_by(&key, &self.issuer).expect("certificate");
        let files = CertFiles {
            cert: self.dir.path().join(format!("{stem}.pem")),
            key: self.dir.path().join(format!("{stem}.key")),
        };
        std::fs::write(&files.cert, cert.pem()).expect("certificate file");
        std::fs::write(&files.key, key.serialize_pem()).expect("key file");
        files
    }
}
