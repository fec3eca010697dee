//! One SSH connection: TCP (or a `direct-tcpip` channel through a jump host), the host key
//! check against known_hosts, and the login (key, ssh-agent, password).

use std::borrow::Cow;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use dagu_plugin_sdk::RunError;
use russh::client::{self, AuthResult, Handle, Handler, Msg};
use russh::keys::agent::client::AgentClient;
use russh::keys::{HashAlg, PrivateKey, PrivateKeyWithHashAlg, PublicKey, PublicKeyOrCertificate};
use russh::{Channel, ChannelOpenFailure, Disconnect, MethodSet};
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::config::{Env, Target};
use crate::errors::{Access, local_io, ssh_failed};
use crate::known_hosts::{self, KnownHosts, Verdict};

/// Session channels open at once on one connection. OpenSSH allows 10 by default
/// (`MaxSessions`); a little room is left for channels the server has not freed yet.
const MAX_SESSIONS: usize = 8;

/// The default keys, tried in this order when `key` is not set.
const DEFAULT_KEYS: [&str; 4] = ["id_rsa", "id_ecdsa", "id_ed25519", "id_dsa"];

/// How the server's host key is judged.
pub(crate) enum HostKeyCheck {
    /// `strictHostKey: false`: any key.
    Accept,
    /// Against a known_hosts file.
    Strict {
        known: KnownHosts,
        /// The lookup name (`host` or `[host]:port`).
        name: String,
        host: String,
        port: u16,
    },
}

/// The russh handler: checks the host key.
pub(crate) struct Client {
    check: HostKeyCheck,
}

/// What the handler (and so the connection) fails with.
#[derive(Debug)]
pub(crate) enum ClientError {
    Ssh(russh::Error),
    /// The host key was refused; the message says why and what to do.
    HostKey(String),
}

impl From<russh::Error> for ClientError {
    fn from(e: russh::Error) -> Self {
        ClientError::Ssh(e)
    }
}

impl Handler for Client {
    type Error = ClientError;

    async fn check_server_key(
        &mut self,
        server_key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let HostKeyCheck::Strict {
            known,
            name,
            host,
            port,
        } = &self.check
        else {
            return Ok(true);
        };
        let key = match server_key {
            PublicKeyOrCertificate::PublicKey { key, .. } => key.clone(),
            PublicKeyOrCertificate::Certificate(cert) => {
                PublicKey::new(cert.public_key().clone(), "")
            }
        };
        let verdict = known.check(name, &key);
        if verdict == Verdict::Known {
            return Ok(true);
        }
        Err(ClientError::HostKey(host_key_message(
            &verdict, known, name, host, *port, &key,
        )))
    }
}

/// The message for a refused host key.
fn host_key_message(
    verdict: &Verdict,
    known: &KnownHosts,
    name: &str,
    host: &str,
    port: u16,
    key: &PublicKey,
) -> String {
    let file = known.path.display();
    let alg = key.algorithm().to_string();
    let fp = known_hosts::fingerprint(key);
    let scan = keyscan(host, port, &known.path);
    match verdict {
        Verdict::Known => String::new(),
        Verdict::Mismatch { line } => format!(
            "host key mismatch for {name}: the server presented the {alg} key {fp}, but {file} \
             line {line} records a different key. This is a possible man-in-the-middle attack, \
             or the server's key was changed. If the change is expected, remove the old entry \
             with `ssh-keygen -R '{name}' -f {file}` and add the new key (`{scan}`, after \
             checking its fingerprint)"
        ),
        Verdict::OtherTypes { types } => format!(
            "host key verification failed for {name}: the server presented the {alg} key {fp}, \
             but {file} records only {} keys for it (strictHostKey is on). Add the {alg} key \
             with `{scan}` after checking its fingerprint, or set strictHostKey: false",
            types.join(", ")
        ),
        Verdict::Unknown => format!(
            "host key verification failed: {name} is not in the known hosts file {file} \
             (strictHostKey is on; the server presented the {alg} key {fp}). Add it with \
             `{scan}` after checking the fingerprint, or set strictHostKey: false"
        ),
        Verdict::Revoked { line } => format!(
            "host key verification failed: the {alg} key {fp} of {name} is marked @revoked in \
             {file} line {line}; refusing to connect"
        ),
    }
}

/// `ssh-keyscan [-p PORT] HOST >> FILE`.
fn keyscan(host: &str, port: u16, file: &Path) -> String {
    let port = if port == 22 {
        String::new()
    } else {
        format!("-p {port} ")
    };
    format!("ssh-keyscan {port}{host} >> {}", file.display())
}

/// The host key policy of `target`: reads its known_hosts file when strict.
fn host_key_check(target: &Target) -> Result<HostKeyCheck, RunError> {
    if !target.strict_host_key {
        return Ok(HostKeyCheck::Accept);
    }
    let path = &target.known_host_file;
    if path.as_os_str().is_empty() {
        return Err(ssh_failed(
            "strictHostKey is on but there is no known hosts file: HOME is not set; set \
             knownHostFile, or strictHostKey: false",
        ));
    }
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(ssh_failed(format!(
                "failed to set up host key verification: the known hosts file {} does not exist \
                 (strictHostKey is on). Create it with `{}` after checking the fingerprint, set \
                 knownHostFile to another file, or set strictHostKey: false",
                path.display(),
                keyscan(&target.host, target.port, path)
            )));
        }
        Err(e) => {
            return Err(ssh_failed(local_io(
                "read known hosts file",
                path,
                Access::Read,
                &e,
            )));
        }
    };
    Ok(HostKeyCheck::Strict {
        known: KnownHosts::parse(path, &text),
        name: known_hosts::lookup_name(&target.host, target.port),
        host: target.host.clone(),
        port: target.port,
    })
}

/// An open, logged-in connection.
pub(crate) struct Connection {
    handle: Handle<Client>,
    /// The jump host's connection, which carries this one.
    jump: Option<Box<Connection>>,
    sessions: Arc<Semaphore>,
    /// `user@host:port`, for messages.
    pub name: String,
}

/// A session channel and its place among the connection's [`MAX_SESSIONS`].
pub(crate) struct Session {
    pub channel: Channel<Msg>,
    pub _permit: OwnedSemaphorePermit,
}

/// Why a session channel could not be opened.
pub(crate) enum OpenError {
    /// The connection is gone: open a new one.
    Dead,
    /// The server refused.
    Refused(RunError),
}

impl Connection {
    /// Whether the connection (or the one to its jump host) has ended.
    pub fn is_closed(&self) -> bool {
        self.handle.is_closed() || self.jump.as_ref().is_some_and(|j| j.is_closed())
    }

    /// Opens a session channel, waiting while [`MAX_SESSIONS`] are open.
    pub async fn open_session(&self) -> Result<Session, OpenError> {
        let permit = self
            .sessions
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| OpenError::Dead)?;
        if self.is_closed() {
            return Err(OpenError::Dead);
        }
        match self.handle.channel_open_session().await {
            Ok(channel) => Ok(Session {
                channel,
                _permit: permit,
            }),
            Err(russh::Error::ChannelOpenFailure(reason)) => {
                Err(OpenError::Refused(ssh_failed(format!(
                    "{} refused to open a session channel ({}): the server may limit sessions \
                     per connection (MaxSessions in sshd_config)",
                    self.name,
                    open_failure(&reason)
                ))))
            }
            Err(_) => Err(OpenError::Dead),
        }
    }

    /// Says goodbye to the server (and then to the jump host).
    pub async fn close(&self) {
        let _ = self
            .handle
            .disconnect(Disconnect::ByApplication, "", "en")
            .await;
        if let Some(jump) = &self.jump {
            Box::pin(jump.close()).await;
        }
    }
}

/// Text for a channel-open failure.
fn open_failure(reason: &ChannelOpenFailure) -> String {
    match reason {
        ChannelOpenFailure::AdministrativelyProhibited => "administratively prohibited".into(),
        ChannelOpenFailure::ConnectFailed => "connect failed".into(),
        ChannelOpenFailure::UnknownChannelType => "unknown channel type".into(),
        ChannelOpenFailure::ResourceShortage => "resource shortage".into(),
        ChannelOpenFailure::Other { code, reason } => format!("{reason} (code {code})"),
    }
}

/// `30s`, `1.5s`, `250ms`.
pub(crate) fn human(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else if d.as_secs() == 0 {
        format!("{}ms", d.as_millis())
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

/// Connects to `target` (through its bastion, if any), checks the host key and logs in.
pub(crate) async fn connect(target: &Target, env: &Env) -> Result<Connection, RunError> {
    let check = host_key_check(target)?;
    let mut config = client::Config {
        nodelay: true,
        keepalive_interval: Some(Duration::from_secs(30)),
        ..Default::default()
    };
    if let HostKeyCheck::Strict { known, name, .. } = &check {
        let preferred = known.preferred_algorithms(name, &config.preferred.key);
        config.preferred.key = Cow::Owned(preferred);
    }
    let config = Arc::new(config);
    let handler = Client { check };
    let address = target.address();
    let timeout = target.timeout;
    let timed_out = |during: &str| {
        ssh_failed(format!(
            "connection to {address} timed out after {} {during}: check the host and port, \
             firewall rules and that the host is reachable (`nc -vz {} {}`); raise `timeout` \
             if the network is slow",
            human(timeout),
            target.host,
            target.port
        ))
    };

    let (jump, handle) = match &target.bastion {
        Some(bastion) => {
            let jump = Box::pin(connect(bastion, env)).await?;
            let channel = tokio::time::timeout(
                timeout,
                jump.handle.channel_open_direct_tcpip(
                    target.host.clone(),
                    u32::from(target.port),
                    "127.0.0.1",
                    0,
                ),
            )
            .await
            .map_err(|_| timed_out("opening a tunnel through the jump host"))?
            .map_err(|e| {
                let why = match &e {
                    russh::Error::ChannelOpenFailure(r) => open_failure(r),
                    other => other.to_string(),
                };
                ssh_failed(format!(
                    "the jump host {} could not connect to {address} ({why}): check the target's \
                     host and port as the jump host sees them, and that the jump host allows \
                     TCP forwarding (AllowTcpForwarding)",
                    bastion.display()
                ))
            })?;
            let handle = tokio::time::timeout(
                timeout,
                client::connect_stream(config, channel.into_stream(), handler),
            )
            .await
            .map_err(|_| timed_out("during the SSH handshake"))?
            .map_err(|e| handshake_error(e, &address))?;
            (Some(Box::new(jump)), handle)
        }
        None => {
            let stream = tokio::time::timeout(timeout, tcp(target))
                .await
                .map_err(|_| timed_out("while connecting"))??;
            let handle =
                tokio::time::timeout(timeout, client::connect_stream(config, stream, handler))
                    .await
                    .map_err(|_| timed_out("during the SSH handshake"))?
                    .map_err(|e| handshake_error(e, &address))?;
            (None, handle)
        }
    };
    let mut handle = handle;
    tokio::time::timeout(timeout, authenticate(&mut handle, target, env))
        .await
        .map_err(|_| timed_out("while logging in"))??;
    Ok(Connection {
        handle,
        jump,
        sessions: Arc::new(Semaphore::new(MAX_SESSIONS)),
        name: target.display(),
    })
}

/// The message for a failed handshake.
fn handshake_error(e: ClientError, address: &str) -> RunError {
    match e {
        ClientError::HostKey(message) => ssh_failed(message),
        ClientError::Ssh(e) => ssh_failed(format!(
            "SSH handshake with {address} failed: {e} (is an SSH server listening on that port?)"
        )),
    }
}

/// A TCP connection to `target`, trying each address its host name resolves to.
async fn tcp(target: &Target) -> Result<TcpStream, RunError> {
    let address = target.address();
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((target.host.as_str(), target.port))
        .await
        .map_err(|e| {
            ssh_failed(format!(
                "cannot resolve the host name `{}`: {e}: check the host name (or use an IP \
                 address)",
                target.host
            ))
        })?
        .collect();
    let mut last = None;
    for addr in addrs {
        match TcpStream::connect(addr).await {
            Ok(stream) => {
                // Small packets (one command, its exit status) must not wait for the
                // delayed ACK of the previous one.
                let _ = stream.set_nodelay(true);
                return Ok(stream);
            }
            Err(e) => last = Some(e),
        }
    }
    let Some(e) = last else {
        return Err(ssh_failed(format!(
            "cannot resolve the host name `{}`: it has no addresses",
            target.host
        )));
    };
    Err(ssh_failed(match e.kind() {
        io::ErrorKind::ConnectionRefused => format!(
            "connection refused by {address}: no SSH server is listening there. Check the host \
             and port (default 22) and that sshd is running on the remote host"
        ),
        io::ErrorKind::PermissionDenied => format!(
            "connecting to {address} was denied: the ssh plugin may connect only to the TCP \
             targets granted to it: add \"{}:{}\" to plugins.grants.ssh.tcp in config.yaml",
            target.host, target.port
        ),
        _ => format!(
            "cannot connect to {address}: {e}: check the host, port and firewall rules (`nc -vz \
             {} {}`)",
            target.host, target.port
        ),
    }))
}

/// Logs in: the key (`key`, else the first default key when no password is set), then
/// ssh-agent identities (when neither key nor password is set), then the password.
async fn authenticate(
    handle: &mut Handle<Client>,
    target: &Target,
    env: &Env,
) -> Result<(), RunError> {
    let user = target.user.as_str();
    let mut tried: Vec<String> = Vec::new();
    let mut notes: Vec<String> = Vec::new();
    let mut methods: Option<MethodSet> = None;
    let failed = |e: russh::Error| ssh_failed(format!("login to {} failed: {e}", target.display()));

    let key = match &target.key {
        Some(path) => Some((path.clone(), load_key(path, target.passphrase.as_deref())?)),
        None if target.password.is_none() => {
            default_key(env, target.passphrase.as_deref(), &mut notes)
        }
        None => None,
    };
    if let Some((path, key)) = key {
        let hash = rsa_hash(handle, key.algorithm().is_rsa()).await;
        let key = PrivateKeyWithHashAlg::new(Arc::new(key), hash);
        match handle
            .authenticate_publickey(user, key)
            .await
            .map_err(failed)?
        {
            AuthResult::Success => return Ok(()),
            AuthResult::Failure {
                remaining_methods, ..
            } => methods = Some(remaining_methods),
        }
        tried.push(format!("the key {}", path.display()));
    }

    if target.key.is_none()
        && target.password.is_none()
        && let Some(socket) = env.agent_socket()
    {
        match AgentClient::connect_uds(&socket).await {
            Ok(mut agent) => {
                if let Some(binding) = handle.agent_session_binding() {
                    let _ = agent.bind_session(binding, false).await;
                }
                let identities = agent.request_identities().await.unwrap_or_default();
                if identities.is_empty() {
                    notes.push(format!("ssh-agent at {} holds no keys", socket.display()));
                }
                for identity in identities {
                    let public = identity.public_key().into_owned();
                    let hash = rsa_hash(handle, public.algorithm().is_rsa()).await;
                    match handle
                        .authenticate_publickey_with(user, public, hash, &mut agent)
                        .await
                    {
                        Ok(AuthResult::Success) => return Ok(()),
                        Ok(AuthResult::Failure {
                            remaining_methods, ..
                        }) => methods = Some(remaining_methods),
                        Err(e) => notes.push(format!("ssh-agent could not sign: {e}")),
                    }
                    tried.push(format!("the ssh-agent key {}", identity.comment()));
                }
            }
            Err(e) => notes.push(format!(
                "cannot reach ssh-agent at {}: {e}",
                socket.display()
            )),
        }
    }

    if let Some(password) = &target.password {
        match handle
            .authenticate_password(user, password.as_str())
            .await
            .map_err(failed)?
        {
            AuthResult::Success => return Ok(()),
            AuthResult::Failure {
                remaining_methods, ..
            } => methods = Some(remaining_methods),
        }
        tried.push("the password".to_string());
    }

    let notes = if notes.is_empty() {
        String::new()
    } else {
        format!(" ({})", notes.join("; "))
    };
    if tried.is_empty() {
        let looked = match env.home() {
            Some(home) => format!(
                "looked for {}",
                DEFAULT_KEYS
                    .iter()
                    .map(|k| home.join(".ssh").join(k).display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            None => "HOME is not set".to_string(),
        };
        return Err(ssh_failed(format!(
            "no SSH key specified and no default keys found ({looked}){notes}: set `key:` to a \
             private key file, set `password:`, or load a key into ssh-agent (SSH_AUTH_SOCK)"
        )));
    }
    let methods = methods
        .filter(|m| !m.is_empty())
        .map(|m| {
            let names: Vec<&str> = m.iter().map(<&str>::from).collect();
            format!(" ({})", names.join(","))
        })
        .unwrap_or_default();
    Err(ssh_failed(format!(
        "permission denied{methods} for {}: the server rejected {}{notes}. Check the user name, \
         that the public key is in ~{user}/.ssh/authorized_keys on the server, or the password",
        target.display(),
        tried.join(", then ")
    )))
}

/// The signature hash for an RSA key: the best the server announces, else SHA-256.
async fn rsa_hash(handle: &Handle<Client>, is_rsa: bool) -> Option<HashAlg> {
    if !is_rsa {
        return None;
    }
    match handle.best_supported_rsa_hash().await {
        Ok(Some(hash)) => hash,
        _ => Some(HashAlg::Sha256),
    }
}

/// Reads and decodes a private key file, decrypting it with `passphrase`.
fn load_key(path: &Path, passphrase: Option<&str>) -> Result<PrivateKey, RunError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ssh_failed(local_io("read key file", path, Access::Read, &e)))?;
    decode_key(path, &text, passphrase).map_err(ssh_failed)
}

/// Decodes a private key; the error says what to do.
fn decode_key(path: &Path, text: &str, passphrase: Option<&str>) -> Result<PrivateKey, String> {
    let file = path.display();
    match russh::keys::decode_secret_key(text, passphrase) {
        Ok(key) => Ok(key),
        Err(russh::keys::Error::KeyIsEncrypted) => Err(format!(
            "the key file {file} is encrypted: set `passphrase` in the ssh config (or load the \
             key into ssh-agent)"
        )),
        Err(e) if passphrase.is_some() && is_encrypted(text) => Err(format!(
            "cannot decrypt the key file {file}: wrong passphrase ({e})"
        )),
        Err(e) => Err(format!(
            "cannot read the key file {file}: not a private key in a supported format \
             (OpenSSH, PEM, PKCS#8, PuTTY): {e}"
        )),
    }
}

/// Whether a key file's text is an encrypted key.
fn is_encrypted(text: &str) -> bool {
    text.contains("ENCRYPTED")
        || russh::keys::PrivateKey::from_openssh(text).is_ok_and(|k| k.is_encrypted())
}

/// The first default key that exists and can be read (notes say why others could not).
fn default_key(
    env: &Env,
    passphrase: Option<&str>,
    notes: &mut Vec<String>,
) -> Option<(PathBuf, PrivateKey)> {
    let home = env.home()?;
    for name in DEFAULT_KEYS {
        let path = home.join(".ssh").join(name);
        match std::fs::metadata(&path) {
            Ok(meta) if meta.is_file() => {}
            Ok(_) => continue,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => {
                notes.push(local_io("look for the key file", &path, Access::Read, &e));
                continue;
            }
        }
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) => {
                notes.push(local_io("read key file", &path, Access::Read, &e));
                continue;
            }
        };
        match decode_key(&path, &text, passphrase) {
            Ok(key) => return Some((path, key)),
            Err(e) => notes.push(e),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_durations() {
        assert_eq!(human(Duration::from_secs(30)), "30s");
        assert_eq!(human(Duration::from_millis(250)), "250ms");
        assert_eq!(human(Duration::from_millis(1500)), "1.5s");
    }

    #[test]
    fn keyscan_commands() {
        assert_eq!(keyscan("h", 22, Path::new("/k")), "ssh-keyscan h >> /k");
        assert_eq!(
            keyscan("h", 2222, Path::new("/k")),
            "ssh-keyscan -p 2222 h >> /k"
        );
    }

    #[test]
    fn garbage_is_not_a_key() {
        let e = decode_key(Path::new("/k"), "hello", None).unwrap_err();
        assert!(e.contains("not a private key"), "{e}");
    }
}
