//! NATS credentials and TLS against a real `nats-server` started with a configuration file:
//! `tls://` with a CA made here by rcgen (`--ca`), a user nkey (`--nkey`), and a creds file
//! (`--creds`) in operator mode, its operator, account and user JWTs signed here with nkeys;
//! each accepted with the right credential and refused, with the server's or the TLS
//! library's reason, with a wrong one. And the status line of the real binary in a
//! pseudo-terminal while the server is down, and again once it is back.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use midstream::model::{LinkState, SourceEvent};
use midstream::sources::nats::{NatsAuth, NatsOptions, NatsSource};
use portable_pty::CommandBuilder;
use tokio::runtime::Runtime;
use tokio::sync::mpsc;

use crate::common::binary::BIN;
use crate::common::nats::NatsServer;
use crate::common::pty::Pty;

/// Generous: the machine is shared, and nothing here waits for this long when it works.
const TIMEOUT: Duration = Duration::from_secs(60);

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn options(url: &str) -> NatsOptions {
    NatsOptions {
        url: url.to_owned(),
        subjects: vec!["auth.>".to_owned()],
        jetstream: None,
        auth: NatsAuth::default(),
        ca: None,
        echo_problems: false,
    }
}

/// Runs the source until its link is connected (`Ok`) or failed (`Err(reason)`).
fn connect(rt: &Runtime, opts: NatsOptions) -> Result<(), String> {
    let source = NatsSource::new(opts).expect("valid options");
    let (tx, mut rx) = mpsc::channel(64);
    let task = rt.spawn(source.run(tx));
    let links = Arc::new(Mutex::new(Vec::new()));
    let result = rt.block_on(async {
        let deadline = tokio::time::sleep(TIMEOUT);
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                event = rx.recv() => match event {
                    Some(SourceEvent::Link(LinkState::Connected { .. })) => return Ok(()),
                    Some(SourceEvent::Link(LinkState::Failed { reason })) => return Err(reason),
                    Some(SourceEvent::Link(link)) => links.lock().unwrap().push(link),
                    Some(_) => {}
                    None => return Err("the source ended without a link state".to_owned()),
                },
                () = &mut deadline => panic!("neither connected nor failed: {:?}", links.lock().unwrap()),
            }
        }
    });
    task.abort();
    result
}

/// A CA, and a server certificate for 127.0.0.1 and localhost signed by it: (CA file, server
/// certificate file, server key file).
fn certificates(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "midstream NATS test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let server_key = KeyPair::generate().unwrap();
    let server = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&server_key, &issuer)
        .unwrap();
    let paths = (
        dir.join("ca.pem"),
        dir.join("server.pem"),
        dir.join("server-key.pem"),
    );
    std::fs::write(&paths.0, ca.pem()).unwrap();
    std::fs::write(&paths.1, server.pem()).unwrap();
    std::fs::write(&paths.2, server_key.serialize_pem()).unwrap();
    paths
}

fn config(dir: &Path, text: &str) -> String {
    let path = dir.join("nats.conf");
    std::fs::write(&path, text).unwrap();
    path.to_string_lossy().into_owned()
}

#[test]
fn tls_urls_are_verified_against_the_ca_given() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = certificates(dir.path());
    let conf = config(
        dir.path(),
        &format!(
            "tls {{\n  cert_file: {cert:?}\n  key_file: {key:?}\n  timeout: 5\n}}\n",
            cert = cert.display().to_string(),
            key = key.display().to_string()
        ),
    );
    let server = NatsServer::start_with(&["-c", &conf]);
    let rt = runtime();
    let url = format!("tls://127.0.0.1:{}", server.port);

    let mut trusted = options(&url);
    trusted.ca = Some(ca);
    assert_eq!(connect(&rt, trusted), Ok(()));

    // Without the CA, the server's certificate is not trusted: a final error, not a retry.
    let reason = connect(&rt, options(&url)).unwrap_err();
    assert!(
        reason.contains(&format!("cannot connect to {url}"))
            && reason.to_lowercase().contains("certificate"),
        "{reason}"
    );
}

#[test]
fn an_nkey_seed_file_signs_in_and_another_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let user = nkeys::KeyPair::new_user();
    let conf = config(
        dir.path(),
        &format!(
            "authorization {{\n  users = [ {{ nkey: {:?} }} ]\n}}\n",
            user.public_key()
        ),
    );
    let server = NatsServer::start_with(&["-c", &conf]);
    let rt = runtime();
    let seed_file = dir.path().join("user.nk");
    std::fs::write(&seed_file, format!("{}\n", user.seed().unwrap())).unwrap();
    let mut opts = options(&server.url);
    opts.auth.nkey_seed = Some(seed_file);
    assert_eq!(connect(&rt, opts), Ok(()));

    let stranger = dir.path().join("stranger.nk");
    std::fs::write(&stranger, nkeys::KeyPair::new_user().seed().unwrap()).unwrap();
    let mut opts = options(&server.url);
    opts.auth.nkey_seed = Some(stranger);
    let reason = connect(&rt, opts).unwrap_err();
    assert!(
        reason.to_lowercase().contains("authorization violation"),
        "{reason}"
    );

    // A seed file that is not there is named.
    let mut opts = options(&server.url);
    opts.auth.nkey_seed = Some(dir.path().join("missing.nk"));
    let reason = connect(&rt, opts).unwrap_err();
    assert!(reason.contains("missing.nk"), "{reason}");
}

/// A NATS JWT (header, claims, ed25519 signature by `issuer`, each base64url), as the `nsc`
/// tool writes them (github.com/nats-io/jwt, v2 claims).
fn jwt(issuer: &nkeys::KeyPair, subject: &str, name: &str, nats: serde_json::Value) -> String {
    let header = serde_json::json!({"typ": "JWT", "alg": "ed25519-nkey"});
    let iat = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut claims = serde_json::json!({
        "iat": iat,
        "iss": issuer.public_key(),
        "name": name,
        "sub": subject,
        "nats": nats,
    });
    // jti: a hash of the claims, base32 without padding (the library's is SHA-512/256).
    use sha2::Digest;
    let hash = sha2::Sha512_256::digest(serde_json::to_vec(&claims).unwrap());
    claims["jti"] = serde_json::Value::String(base32(&hash));
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).unwrap()),
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap())
    );
    let signature = issuer.sign(signing_input.as_bytes()).unwrap();
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

fn base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::new();
    let mut buffer = 0u32;
    let mut bits = 0;
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((buffer >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}

/// Unlimited, as `nsc add account` / `nsc add user` make them.
fn unlimited() -> serde_json::Value {
    serde_json::json!({"subs": -1, "data": -1, "payload": -1})
}

#[test]
fn a_creds_file_signs_in_with_its_jwt_and_seed() {
    let dir = tempfile::tempdir().unwrap();
    let operator = nkeys::KeyPair::new_operator();
    let account = nkeys::KeyPair::new_account();
    let user = nkeys::KeyPair::new_user();
    let operator_jwt = jwt(
        &operator,
        &operator.public_key(),
        "test-operator",
        serde_json::json!({"type": "operator", "version": 2}),
    );
    let mut account_limits = unlimited();
    account_limits["imports"] = (-1).into();
    account_limits["exports"] = (-1).into();
    account_limits["wildcards"] = true.into();
    account_limits["conn"] = (-1).into();
    account_limits["leaf"] = (-1).into();
    let account_jwt = jwt(
        &operator,
        &account.public_key(),
        "test-account",
        serde_json::json!({"limits": account_limits, "type": "account", "version": 2}),
    );
    // JetStream (the test server runs `-js`) needs a system account in operator mode.
    let system = nkeys::KeyPair::new_account();
    let system_jwt = jwt(
        &operator,
        &system.public_key(),
        "SYS",
        serde_json::json!({"limits": account_limits, "type": "account", "version": 2}),
    );
    let mut user_claims = unlimited();
    user_claims["pub"] = serde_json::json!({});
    user_claims["sub"] = serde_json::json!({});
    user_claims["type"] = "user".into();
    user_claims["version"] = 2.into();
    let user_jwt = jwt(&account, &user.public_key(), "test-user", user_claims);
    let conf = config(
        dir.path(),
        &format!(
            "operator: {operator_jwt}\nsystem_account: {sys}\nresolver: MEMORY\n\
             resolver_preload: {{\n  {}: {account_jwt}\n  {sys}: {system_jwt}\n}}\n",
            account.public_key(),
            sys = system.public_key()
        ),
    );
    let server = NatsServer::start_with(&["-c", &conf]);
    let rt = runtime();
    let creds = |seed: &str| {
        format!(
            "-----BEGIN NATS USER JWT-----\n{user_jwt}\n------END NATS USER JWT------\n\n\
             ************************* IMPORTANT *************************\n\
             NKEY Seed printed below can be used to sign and prove identity.\n\
             NKEYs are sensitive and should be treated as secrets.\n\n\
             -----BEGIN USER NKEY SEED-----\n{seed}\n------END USER NKEY SEED------\n\n\
             *************************************************************\n"
        )
    };
    let path = dir.path().join("user.creds");
    std::fs::write(&path, creds(&user.seed().unwrap())).unwrap();
    let mut opts = options(&server.url);
    opts.auth.creds = Some(path.clone());
    assert_eq!(connect(&rt, opts.clone()), Ok(()));

    // The JWT with another user's seed cannot sign the server's challenge.
    std::fs::write(&path, creds(&nkeys::KeyPair::new_user().seed().unwrap())).unwrap();
    let reason = connect(&rt, opts).unwrap_err();
    assert!(
        reason.to_lowercase().contains("authorization violation"),
        "{reason}"
    );
}

#[test]
fn the_status_line_shows_a_lost_connection_and_its_return() {
    let mut server = NatsServer::start();
    let home = tempfile::tempdir().unwrap();
    let mut cmd = CommandBuilder::new(BIN);
    cmd.env("HOME", home.path());
    cmd.env("XDG_CONFIG_HOME", home.path());
    cmd.env_remove("MIDSTREAM_CONFIG");
    cmd.args(["attach", &server.url, "--subject", "sensors.>"]);
    let mut screen = Pty::spawn(cmd, 40, 140);
    let connected = format!("connected to {}", server.url);
    screen.wait_for("connected on the status line", TIMEOUT, |t| {
        t.contains(&connected)
    });

    server.kill();
    let text = screen.wait_for("reconnecting on the status line", TIMEOUT, |t| {
        t.contains("reconnecting (attempt")
    });
    assert!(!text.contains(&connected), "{text}");
    assert!(
        text.contains("lost the connection to nats://127.0.0.1") || text.contains("cannot reach"),
        "{text}"
    );

    server.restart();
    screen.wait_for("connected again", TIMEOUT, |t| {
        t.contains(&connected) && !t.contains("reconnecting (attempt")
    });
    screen.send(b"q");
    let status = screen.wait_exit("q", Duration::from_secs(20));
    assert!(status.success(), "exit status {status:?}");
    screen.close();
}
