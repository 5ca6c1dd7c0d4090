//! TLS for the QUIC transport: server identities, SHA-256 certificate fingerprints, and the
//! client's ways of trusting a server (CA file, pinned fingerprint, trust on first use, or
//! explicitly none).
//!
//! All cryptography uses rustls with the `ring` provider, passed explicitly (no process-wide
//! default is installed). TLS 1.3 only, as QUIC requires. Whatever the trust mode, the server's
//! handshake signature is always checked against the certificate it presented, so a
//! fingerprint match proves the server holds that certificate's key.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, Mutex, PoisonError};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use sha2::{Digest, Sha256};

use super::protocol::ALPN;

/// The crypto provider every TLS configuration here uses.
pub fn crypto_provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A SHA-256 fingerprint of a certificate's DER encoding.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint(pub [u8; 32]);

impl Fingerprint {
    /// The fingerprint of a DER-encoded certificate.
    pub fn of(cert_der: &[u8]) -> Self {
        Self(Sha256::digest(cert_der).into())
    }
}

/// 64 lower-case hex digits, no separators: the form `serve` prints and `--pin` takes.
impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({self})")
    }
}

/// Why a fingerprint could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid SHA-256 fingerprint {input:?}: {problem} (expected 64 hex digits, optionally \
     separated by colons in pairs and prefixed by \"sha256:\")"
)]
pub struct FingerprintError {
    pub input: String,
    pub problem: String,
}

/// Accepts 64 hex digits in either case, optionally prefixed by `sha256:` (any case) and
/// optionally written as 32 colon-separated pairs (`AB:CD:...`); surrounding space is ignored.
impl FromStr for Fingerprint {
    type Err = FingerprintError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let fail = |problem: String| FingerprintError {
            input: input.to_owned(),
            problem,
        };
        let mut text = input.trim();
        if let Some(prefix) = text.get(..7)
            && prefix.eq_ignore_ascii_case("sha256:")
        {
            text = &text[7..];
        }
        let digits: String = if text.contains(':') {
            let pairs: Vec<&str> = text.split(':').collect();
            if pairs.len() != 32 || pairs.iter().any(|p| p.len() != 2) {
                return Err(fail(format!(
                    "colon-separated form must be 32 pairs of 2 digits, got {} groups",
                    pairs.len()
                )));
            }
            pairs.concat()
        } else {
            text.to_owned()
        };
        if let Some((pos, c)) = digits.char_indices().find(|(_, c)| !c.is_ascii_hexdigit()) {
            return Err(fail(format!(
                "{c:?} at digit {} is not a hex digit",
                pos + 1
            )));
        }
        if digits.len() != 64 {
            return Err(fail(format!("{} hex digits", digits.len())));
        }
        let mut bytes = [0u8; 32];
        for (i, byte) in bytes.iter_mut().enumerate() {
            // Two ASCII hex digits, checked above.
            *byte = u8::from_str_radix(&digits[2 * i..2 * i + 2], 16)
                .map_err(|e| fail(e.to_string()))?;
        }
        Ok(Self(bytes))
    }
}

/// Problems with certificates, keys and trust settings (local files and options).
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {what} {path}: {message}")]
    File {
        what: &'static str,
        path: PathBuf,
        message: String,
    },
    #[error("no {what} found in {path}")]
    Missing { what: &'static str, path: PathBuf },
    #[error("cannot generate a self-signed certificate: {0}")]
    Generate(String),
    #[error("TLS configuration: {0}")]
    Config(String),
    #[error("trust-on-first-use store {path}:{line}: {message}")]
    TofuStore {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("cannot write the trust-on-first-use store {path}: {message}")]
    TofuWrite { path: PathBuf, message: String },
    #[error(
        "the trust-on-first-use store {path} can be written by {who} (mode {mode:03o}), who could \
         make this client trust any server; make it private with: chmod 600 {path}"
    )]
    TofuPermissions {
        path: PathBuf,
        mode: u32,
        who: &'static str,
    },
    #[error(
        "no trust-on-first-use store: the user's config directory is unknown (set HOME, or pin \
         the certificate with --pin)"
    )]
    NoConfigDir,
    #[error(transparent)]
    Fingerprint(#[from] FingerprintError),
    #[error("choose how to trust the server: --pin SHA256, --ca FILE, --tofu or --insecure")]
    NoTrustChosen,
}

/// A certificate chain and its private key.
#[derive(Debug)]
pub struct ServerIdentity {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
    /// Whether the certificate was generated here (and so must be pinned to be trusted).
    pub self_signed: bool,
}

impl ServerIdentity {
    /// A fresh self-signed certificate (rcgen) for `names` (DNS names or IP addresses).
    pub fn self_signed(names: &[String]) -> Result<Self, TlsError> {
        let certified = rcgen::generate_simple_self_signed(names.to_vec())
            .map_err(|e| TlsError::Generate(e.to_string()))?;
        let key = PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der());
        Ok(Self {
            chain: vec![certified.cert.der().clone()],
            key: PrivateKeyDer::Pkcs8(key),
            self_signed: true,
        })
    }

    /// A certificate chain (leaf first) and private key from PEM files.
    pub fn from_pem_files(cert: &Path, key: &Path) -> Result<Self, TlsError> {
        let file_error = |what, path: &Path, e: rustls::pki_types::pem::Error| TlsError::File {
            what,
            path: path.to_owned(),
            message: e.to_string(),
        };
        let chain = CertificateDer::pem_file_iter(cert)
            .map_err(|e| file_error("certificate file", cert, e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| file_error("certificate file", cert, e))?;
        if chain.is_empty() {
            return Err(TlsError::Missing {
                what: "PEM certificate",
                path: cert.to_owned(),
            });
        }
        let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| match e {
            rustls::pki_types::pem::Error::NoItemsFound => TlsError::Missing {
                what: "PEM private key",
                path: key.to_owned(),
            },
            e => file_error("private key file", key, e),
        })?;
        Ok(Self {
            chain,
            key: key_der,
            self_signed: false,
        })
    }

    /// The fingerprint of the leaf certificate (what a client pins).
    pub fn fingerprint(&self) -> Fingerprint {
        // Both constructors guarantee a non-empty chain.
        self.chain
            .first()
            .map(|c| Fingerprint::of(c))
            .unwrap_or(Fingerprint([0; 32]))
    }
}

/// The server side's QUIC crypto configuration for `identity`.
pub fn server_crypto(
    identity: &ServerIdentity,
) -> Result<quinn::crypto::rustls::QuicServerConfig, TlsError> {
    let mut config = rustls::ServerConfig::builder_with_provider(crypto_provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(identity.chain.clone(), identity.key.clone_key())
        .map_err(|e| TlsError::Config(format!("certificate and key: {e}")))?;
    config.alpn_protocols = vec![ALPN.to_vec()];
    quinn::crypto::rustls::QuicServerConfig::try_from(config)
        .map_err(|e| TlsError::Config(e.to_string()))
}

/// How a client decides to trust the server's certificate.
#[derive(Debug, Clone)]
pub enum Trust {
    /// Only a certificate with this fingerprint; names and dates are not checked (the pin is
    /// the identity).
    Pin(Fingerprint),
    /// Certificates chaining to a CA in this PEM file, for the server's name, within their
    /// validity dates (standard WebPKI verification).
    CaFile(PathBuf),
    /// The first certificate seen for an address is remembered in `store`; later connections
    /// must present the same one.
    Tofu { store: PathBuf },
    /// No verification of the certificate at all. Callers must warn the user.
    Insecure,
}

impl Trust {
    /// The trust mode from the command line's flags (at most one is set, which clap enforces).
    /// `--tofu` uses [`default_tofu_store`]; no flag at all is an error naming the choices.
    pub fn from_flags(
        pin: Option<&str>,
        ca: Option<&Path>,
        tofu: bool,
        insecure: bool,
    ) -> Result<Trust, TlsError> {
        if let Some(pin) = pin {
            return Ok(Trust::Pin(pin.parse()?));
        }
        if let Some(ca) = ca {
            return Ok(Trust::CaFile(ca.to_owned()));
        }
        if tofu {
            return Ok(Trust::Tofu {
                store: default_tofu_store().ok_or(TlsError::NoConfigDir)?,
            });
        }
        if insecure {
            return Ok(Trust::Insecure);
        }
        Err(TlsError::NoTrustChosen)
    }

    pub fn is_insecure(&self) -> bool {
        matches!(self, Trust::Insecure)
    }
}

/// `known_servers` in the user's config directory (e.g. `~/.config/midstream/known_servers`
/// on Linux), or `None` when the platform gives no config directory.
pub fn default_tofu_store() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "midstream")
        .map(|d| d.config_dir().join("known_servers"))
}

/// The trust-on-first-use store: one `ADDRESS FINGERPRINT` line per server, `#` comments.
#[derive(Debug, Clone)]
pub struct TofuStore {
    path: PathBuf,
    entries: BTreeMap<String, Fingerprint>,
}

impl TofuStore {
    /// Loads the store at `path`; a missing file is an empty store. A file that group or
    /// others may write is refused: whoever can write it decides which servers are trusted.
    pub fn load(path: &Path) -> Result<Self, TlsError> {
        check_private(path)?;
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => {
                return Err(TlsError::File {
                    what: "trust-on-first-use store",
                    path: path.to_owned(),
                    message: e.to_string(),
                });
            }
        };
        let mut entries = BTreeMap::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = |message: String| TlsError::TofuStore {
                path: path.to_owned(),
                line: i + 1,
                message,
            };
            let mut words = line.split_whitespace();
            let (Some(addr), Some(fp), None) = (words.next(), words.next(), words.next()) else {
                return Err(bad(format!("expected `ADDRESS FINGERPRINT`, got {line:?}")));
            };
            let fp: Fingerprint = fp
                .parse()
                .map_err(|e: FingerprintError| bad(e.to_string()))?;
            entries.insert(addr.to_owned(), fp);
        }
        Ok(Self {
            path: path.to_owned(),
            entries,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The fingerprint remembered for `addr`.
    pub fn get(&self, addr: &str) -> Option<Fingerprint> {
        self.entries.get(addr).copied()
    }

    /// Remembers `fp` for `addr` and appends it to the file (creating its directory, and the
    /// file with mode 0600: readable and writable by the user only).
    pub fn remember(&mut self, addr: &str, fp: Fingerprint) -> Result<(), TlsError> {
        let write_error = |e: std::io::Error| TlsError::TofuWrite {
            path: self.path.clone(),
            message: e.to_string(),
        };
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(write_error)?;
        }
        let mut options = std::fs::OpenOptions::new();
        options.create(true).append(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        // The file may have been made writable by others since it was loaded.
        check_private(&self.path)?;
        let mut file = options.open(&self.path).map_err(write_error)?;
        writeln!(file, "{addr} {fp}").map_err(write_error)?;
        self.entries.insert(addr.to_owned(), fp);
        Ok(())
    }
}

/// Refuses a trust-on-first-use store that group or others may write (a missing one is fine).
#[cfg(unix)]
fn check_private(path: &Path) -> Result<(), TlsError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = match std::fs::metadata(path) {
        Ok(metadata) => metadata.permissions().mode() & 0o7777,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => {
            return Err(TlsError::File {
                what: "trust-on-first-use store",
                path: path.to_owned(),
                message: e.to_string(),
            });
        }
    };
    let who = match (mode & 0o020 != 0, mode & 0o002 != 0) {
        (false, false) => return Ok(()),
        (true, true) => "group and others",
        (true, false) => "its group",
        (false, true) => "others",
    };
    Err(TlsError::TofuPermissions {
        path: path.to_owned(),
        mode,
        who,
    })
}

#[cfg(not(unix))]
fn check_private(_path: &Path) -> Result<(), TlsError> {
    Ok(())
}

/// Why the client refused a server's certificate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrustFailure {
    #[error(
        "the server's certificate does not match the pinned fingerprint: expected {expected}, \
         got {got}"
    )]
    PinMismatch {
        expected: Fingerprint,
        got: Fingerprint,
    },
    #[error(
        "the server's certificate (fingerprint {got}) is not trusted by the CA file {ca_file}: \
         {reason}"
    )]
    NotTrustedByCa {
        ca_file: PathBuf,
        got: Fingerprint,
        reason: String,
    },
    #[error(
        "the server at {addr} presented a different certificate than the first time: expected \
         {expected} (remembered in {store}), got {got}; if the server's certificate really \
         changed, remove its line from that file"
    )]
    TofuMismatch {
        addr: String,
        store: PathBuf,
        expected: Fingerprint,
        got: Fingerprint,
    },
}

/// What the verifier saw during the last handshake, shared with the client's session.
#[derive(Debug, Default)]
pub struct HandshakeObservation {
    /// The fingerprint of the certificate the server presented.
    pub presented: Option<Fingerprint>,
    /// Why it was refused, when it was.
    pub failure: Option<TrustFailure>,
}

/// Shared slot the verifier writes its observation into.
pub type ObservationSlot = Arc<Mutex<HandshakeObservation>>;

/// A client's QUIC crypto configuration for `trust`, and the slot where each handshake's
/// fingerprint and trust failure are recorded. `tofu_expected` is the fingerprint the
/// trust-on-first-use store holds for this server, if any (ignored for other modes).
pub fn client_crypto(
    trust: &Trust,
    tofu: Option<(&str, &TofuStore)>,
) -> Result<(quinn::crypto::rustls::QuicClientConfig, ObservationSlot), TlsError> {
    let provider = crypto_provider();
    let observation: ObservationSlot = Arc::default();
    let check = match trust {
        Trust::Pin(fp) => Check::Pin(*fp),
        Trust::Insecure => Check::Anything,
        Trust::Tofu { .. } => match tofu {
            Some((addr, store)) => match store.get(addr) {
                Some(expected) => Check::Tofu {
                    addr: addr.to_owned(),
                    store: store.path().to_owned(),
                    expected,
                },
                None => Check::Anything,
            },
            None => Check::Anything,
        },
        Trust::CaFile(path) => {
            let mut roots = rustls::RootCertStore::empty();
            let certs = CertificateDer::pem_file_iter(path)
                .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
                .map_err(|e| TlsError::File {
                    what: "CA file",
                    path: path.clone(),
                    message: e.to_string(),
                })?;
            if certs.is_empty() {
                return Err(TlsError::Missing {
                    what: "PEM certificate",
                    path: path.clone(),
                });
            }
            for cert in certs {
                roots.add(cert).map_err(|e| TlsError::File {
                    what: "CA file",
                    path: path.clone(),
                    message: e.to_string(),
                })?;
            }
            let webpki = rustls::client::WebPkiServerVerifier::builder_with_provider(
                Arc::new(roots),
                provider.clone(),
            )
            .build()
            .map_err(|e| TlsError::Config(e.to_string()))?;
            Check::Ca {
                ca_file: path.clone(),
                webpki,
            }
        }
    };
    let verifier = Arc::new(ObservingVerifier {
        check,
        algorithms: provider.signature_verification_algorithms,
        observation: observation.clone(),
    });
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| TlsError::Config(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    config.alpn_protocols = vec![ALPN.to_vec()];
    // Every connection verifies the certificate anew. A resumed TLS 1.3 session presents no
    // certificate, so the verifier would not run: a reconnection to the same server (after a
    // "server busy", a lost network) would have no fingerprint to report or check.
    config.resumption = rustls::client::Resumption::disabled();
    let quic = quinn::crypto::rustls::QuicClientConfig::try_from(config)
        .map_err(|e| TlsError::Config(e.to_string()))?;
    Ok((quic, observation))
}

/// The name to present in SNI and verify against for `addr` (`HOST:PORT`, `[V6]:PORT`).
pub fn server_name_of(addr: &str) -> &str {
    let host = addr.rsplit_once(':').map_or(addr, |(host, _)| host);
    host.trim_start_matches('[').trim_end_matches(']')
}

/// The `attach` command that trusts `fingerprint` at `addr`. An unspecified listen address
/// (0.0.0.0, ::) is shown as the loopback address of its family.
pub fn attach_command(addr: SocketAddr, fingerprint: Fingerprint) -> String {
    let mut shown = addr;
    if addr.ip().is_unspecified() {
        shown.set_ip(match addr {
            SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    format!("midstream-tui attach {shown} --pin {fingerprint}")
}

#[derive(Debug)]
enum Check {
    Pin(Fingerprint),
    Ca {
        ca_file: PathBuf,
        webpki: Arc<rustls::client::WebPkiServerVerifier>,
    },
    Tofu {
        addr: String,
        store: PathBuf,
        expected: Fingerprint,
    },
    /// `--insecure`, or the first use of a trust-on-first-use address.
    Anything,
}

/// Checks the certificate per [`Check`], records what it saw, and always checks the handshake
/// signature against the presented certificate.
#[derive(Debug)]
struct ObservingVerifier {
    check: Check,
    algorithms: WebPkiSupportedAlgorithms,
    observation: ObservationSlot,
}

impl ObservingVerifier {
    fn record(&self, presented: Fingerprint, failure: Option<TrustFailure>) {
        let mut slot = self
            .observation
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        slot.presented = Some(presented);
        slot.failure = failure;
    }
}

impl ServerCertVerifier for ObservingVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let got = Fingerprint::of(end_entity);
        let failure = match &self.check {
            Check::Pin(expected) if *expected != got => Some(TrustFailure::PinMismatch {
                expected: *expected,
                got,
            }),
            Check::Tofu {
                addr,
                store,
                expected,
            } if *expected != got => Some(TrustFailure::TofuMismatch {
                addr: addr.clone(),
                store: store.clone(),
                expected: *expected,
                got,
            }),
            Check::Ca { ca_file, webpki } => webpki
                .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
                .err()
                .map(|e| TrustFailure::NotTrustedByCa {
                    ca_file: ca_file.clone(),
                    got,
                    reason: e.to_string(),
                }),
            _ => None,
        };
        self.record(got, failure.clone());
        match failure {
            None => Ok(ServerCertVerified::assertion()),
            Some(failure) => Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::Other(rustls::OtherError(Arc::new(failure))),
            )),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    #[test]
    fn fingerprints_parse_in_every_accepted_form() {
        let fp: Fingerprint = HEX.parse().unwrap();
        assert_eq!(fp.to_string(), HEX);
        let upper = HEX.to_uppercase();
        let colons: Vec<String> = (0..32)
            .map(|i| upper[2 * i..2 * i + 2].to_owned())
            .collect();
        for form in [
            upper.clone(),
            format!("sha256:{HEX}"),
            format!("SHA256:{upper}"),
            colons.join(":"),
            format!("sha256:{}", colons.join(":")),
            format!("  {HEX}\n"),
        ] {
            assert_eq!(form.parse::<Fingerprint>(), Ok(fp), "{form}");
        }
    }

    #[test]
    fn bad_fingerprints_say_what_is_wrong() {
        let short = HEX[..63].to_owned();
        let err = short.parse::<Fingerprint>().unwrap_err();
        assert!(err.problem.contains("63 hex digits"), "{err}");
        let bad = format!("{}g", &HEX[..63]);
        let err = bad.parse::<Fingerprint>().unwrap_err();
        assert!(err.problem.contains("'g' at digit 64"), "{err}");
        let err = "ab:cd".parse::<Fingerprint>().unwrap_err();
        assert!(err.problem.contains("32 pairs"), "{err}");
        assert!("sha1:".parse::<Fingerprint>().is_err());
        assert!("".parse::<Fingerprint>().is_err());
    }

    #[test]
    fn fingerprint_is_sha256_of_the_der() {
        // SHA-256("test") = 9f86d081...0a08 (FIPS 180-4 test vectors, widely reproduced).
        assert_eq!(Fingerprint::of(b"test").to_string(), HEX);
    }

    #[test]
    fn tofu_store_round_trips_and_reports_bad_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("known_servers");
        let mut store = TofuStore::load(&path).unwrap();
        assert_eq!(store.get("127.0.0.1:4433"), None);
        let fp: Fingerprint = HEX.parse().unwrap();
        store.remember("127.0.0.1:4433", fp).unwrap();
        let again = TofuStore::load(&path).unwrap();
        assert_eq!(again.get("127.0.0.1:4433"), Some(fp));

        std::fs::write(&path, "# comment\nhost:1 nothex\n").unwrap();
        let err = TofuStore::load(&path).unwrap_err().to_string();
        assert!(
            err.contains(":2:") && err.contains("invalid SHA-256 fingerprint"),
            "{err}"
        );
    }

    #[cfg(unix)]
    #[test]
    fn the_tofu_store_is_private_and_refused_when_others_can_write_it() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("known_servers");
        let mut store = TofuStore::load(&path).unwrap();
        store
            .remember("127.0.0.1:4433", HEX.parse().unwrap())
            .unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert!(TofuStore::load(&path).is_ok());

        for (mode, who) in [
            (0o620, "its group"),
            (0o602, "others"),
            (0o666, "group and others"),
        ] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            let err = TofuStore::load(&path).unwrap_err().to_string();
            let shown = path.display();
            assert_eq!(
                err,
                format!(
                    "the trust-on-first-use store {shown} can be written by {who} (mode \
                     {mode:03o}), who could make this client trust any server; make it \
                     private with: chmod 600 {shown}"
                )
            );
            assert!(matches!(
                store.remember("127.0.0.1:1", HEX.parse().unwrap()),
                Err(TlsError::TofuPermissions { .. })
            ));
        }
        // Readable by others is not a risk to trust (the fingerprints are public).
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(TofuStore::load(&path).is_ok());
    }

    #[test]
    fn server_names_and_attach_commands() {
        assert_eq!(server_name_of("127.0.0.1:4433"), "127.0.0.1");
        assert_eq!(server_name_of("[::1]:4433"), "::1");
        assert_eq!(server_name_of("example.org:1"), "example.org");
        let fp: Fingerprint = HEX.parse().unwrap();
        let cmd = attach_command("0.0.0.0:4433".parse().unwrap(), fp);
        assert_eq!(
            cmd,
            format!("midstream-tui attach 127.0.0.1:4433 --pin {HEX}")
        );
    }

    #[test]
    fn self_signed_identity_builds_a_server_config() {
        let id = ServerIdentity::self_signed(&["localhost".into(), "127.0.0.1".into()]).unwrap();
        assert!(id.self_signed);
        assert_eq!(id.fingerprint(), Fingerprint::of(&id.chain[0]));
        assert!(server_crypto(&id).is_ok());
    }

    #[test]
    fn from_flags_needs_a_choice_and_a_valid_pin() {
        assert!(matches!(
            Trust::from_flags(None, None, false, false),
            Err(TlsError::NoTrustChosen)
        ));
        assert!(matches!(
            Trust::from_flags(Some("abc"), None, false, false),
            Err(TlsError::Fingerprint(_))
        ));
        assert!(matches!(
            Trust::from_flags(Some(HEX), None, false, false),
            Ok(Trust::Pin(_))
        ));
        assert!(
            Trust::from_flags(None, None, false, true)
                .unwrap()
                .is_insecure()
        );
    }
}
