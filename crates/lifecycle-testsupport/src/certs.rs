use std::fs;
use std::path::{Path, PathBuf};

use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};

/// A throwaway certificate authority with a server and a client certificate, as PEM files.
#[derive(Debug, Clone)]
pub struct TestCerts {
    /// The CA certificate.
    pub ca: PathBuf,
    /// The server certificate, valid for `127.0.0.1` and `localhost`.
    pub server_cert: PathBuf,
    /// The server key.
    pub server_key: PathBuf,
    /// The client certificate.
    pub client_cert: PathBuf,
    /// The client key.
    pub client_key: PathBuf,
}

impl TestCerts {
    /// Generates a CA named `ca_name` and its certificates into `dir`.
    pub fn generate(dir: &Path, ca_name: &str) -> TestCerts {
        fs::create_dir_all(dir).expect("create certificate directory");
        let ca_key = KeyPair::generate().expect("CA key");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, ca_name);
        let ca_cert = ca_params.self_signed(&ca_key).expect("self-sign CA");
        let issuer = Issuer::new(ca_params, ca_key);

        let write = |name: &str, pem: String| {
            let path = dir.join(name);
            fs::write(&path, pem).expect("write PEM");
            path
        };
        let leaf = |names: Vec<String>| {
            let key = KeyPair::generate().expect("leaf key");
            let params = CertificateParams::new(names).expect("leaf params");
            let cert = params.signed_by(&key, &issuer).expect("sign leaf");
            (cert.pem(), key.serialize_pem())
        };
        let (server_cert, server_key) = leaf(vec!["127.0.0.1".into(), "localhost".into()]);
        let (client_cert, client_key) = leaf(vec!["client.example.net".into()]);
        TestCerts {
            ca: write("ca.pem", ca_cert.pem()),
            server_cert: write("server.pem", server_cert),
            server_key: write("server-key.pem", server_key),
            client_cert: write("client.pem", client_cert),
            client_key: write("client-key.pem", client_key),
        }
    }

    /// A nats-server `tls` block that requires and verifies client certificates.
    pub fn server_config(&self) -> String {
        format!(
            "tls {{\n  cert_file: {:?}\n  key_file: {:?}\n  ca_file: {:?}\n  verify: true\n  timeout: 5\n}}\n",
            self.server_cert, self.server_key, self.ca
        )
    }
}
