//! Email over SMTP, through the same guard as HTTP.
//!
//! The host is resolved here, every address passes the guard, and lettre
//! connects to an allowed address while TLS still checks the certificate
//! against the host name. Each email is one connection (no pool).

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use rand::RngCore;

use crate::client::{resolve, Client};
use crate::error::{find, root_message, ErrorKind, SendError};

/// How the connection to the mail server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Security {
    /// Plain text all the way (port 25 between servers, or a local relay).
    None,
    /// Plain text upgraded with `STARTTLS` (usually port 587); a server that
    /// does not offer it is an error, never a silent downgrade.
    StartTls,
    /// TLS from the first byte (usually port 465).
    Tls,
}

/// Where and how to send. Its `Debug` hides the password.
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpSettings {
    /// A host name or IP address; certificates are checked against it.
    pub host: String,
    pub port: u16,
    pub security: Security,
    /// Authenticate (PLAIN or LOGIN, whichever the server offers) when set.
    pub username: Option<String>,
    pub password: Option<String>,
    /// For the whole email: resolution, connection, dialogue.
    pub timeout: Duration,
}

impl fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<hidden>"))
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// One email. Addresses are `ann@example.com` or `Ann Lee <ann@example.com>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Email {
    pub from: String,
    pub to: Vec<String>,
    pub cc: Vec<String>,
    /// Receive the email without appearing in its headers.
    pub bcc: Vec<String>,
    pub reply_to: Option<String>,
    /// Line breaks become spaces.
    pub subject: String,
    /// Both `text` and `html`: `multipart/alternative`; neither: an empty text body.
    pub text: Option<String>,
    pub html: Option<String>,
    /// Extra headers, e.g. `("X-Hookflow-Idempotency-Key", key)`. Names the
    /// message is built from (`From`, `To`, `Subject`, `Message-ID`, ...) are refused.
    pub headers: Vec<(String, String)>,
}

/// Header names an email's own fields set.
const RESERVED_HEADERS: &[&str] = &[
    "from",
    "sender",
    "to",
    "cc",
    "bcc",
    "reply-to",
    "subject",
    "date",
    "message-id",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
];

impl Client {
    /// Sends `email` and returns its Message-ID (`<random@sender-domain>`),
    /// which hookflow makes so a step's log can name it. Classify the result
    /// with [`crate::classify_email`].
    pub async fn send_email(&self, settings: &SmtpSettings, email: &Email) -> Result<String, SendError> {
        if settings.timeout.is_zero() {
            return Err(SendError::invalid("the timeout must be longer than zero"));
        }
        if settings.port == 0 {
            return Err(SendError::invalid("the SMTP port must not be 0"));
        }
        let (message, message_id) = build_message(email)?;
        match tokio::time::timeout(settings.timeout, self.deliver(settings, message)).await {
            Ok(Ok(())) => Ok(message_id),
            Ok(Err(err)) => Err(err),
            Err(_) => Err(SendError::timeout(settings.timeout)),
        }
    }

    async fn deliver(&self, settings: &SmtpSettings, message: Message) -> Result<(), SendError> {
        let host = settings.host.trim().trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return Err(SendError::invalid("the SMTP host is empty"));
        }
        let addrs: Vec<SocketAddr> = match host.parse::<IpAddr>() {
            Ok(ip) => {
                self.guard
                    .check(ip)
                    .map_err(|refused| SendError::new(ErrorKind::Refused, refused.to_string()))?;
                vec![SocketAddr::new(ip, settings.port)]
            }
            Err(_) => resolve(&self.guard, host, settings.port).await?,
        };
        let tls = match settings.security {
            Security::None => Tls::None,
            Security::StartTls => Tls::Required(tls_parameters(host)?),
            Security::Tls => Tls::Wrapper(tls_parameters(host)?),
        };
        let mut last = None;
        for addr in addrs {
            let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(addr.ip().to_string())
                .port(addr.port())
                .tls(tls.clone())
                .timeout(Some(settings.timeout));
            if let Some(username) = &settings.username {
                builder = builder.credentials(Credentials::new(
                    username.clone(),
                    settings.password.clone().unwrap_or_default(),
                ));
            }
            let transport: AsyncSmtpTransport<Tokio1Executor> = builder.build();
            match transport.send(message.clone()).await {
                Ok(_) => return Ok(()),
                Err(err) => {
                    let err = smtp_error(&err, settings, addr);
                    // Another address is worth a try only when this one did not answer.
                    if err.kind != ErrorKind::Connect {
                        return Err(err);
                    }
                    tracing::debug!(%addr, error = %err, "An SMTP address did not answer.");
                    last = Some(err);
                }
            }
        }
        Err(last.unwrap_or_else(|| SendError::new(ErrorKind::Dns, format!("could not resolve {host}: no addresses"))))
    }
}

fn tls_parameters(host: &str) -> Result<TlsParameters, SendError> {
    TlsParameters::new(host.to_owned())
        .map_err(|e| SendError::invalid(format!("`{host}` cannot be checked by TLS: {}", root_message(&e))))
}

fn smtp_error(err: &lettre::transport::smtp::Error, settings: &SmtpSettings, addr: SocketAddr) -> SendError {
    let server = if settings.host.parse::<IpAddr>().is_ok() {
        addr.to_string()
    } else {
        format!("{} ({addr})", settings.host)
    };
    if err.is_permanent() {
        return SendError::new(
            ErrorKind::Rejected,
            format!("the mail server {server} refused the email: {err}"),
        );
    }
    if err.is_transient() {
        return SendError::new(
            ErrorKind::Other,
            format!("the mail server {server} asked to try later: {err}"),
        );
    }
    if err.is_timeout() {
        return SendError::timeout(settings.timeout);
    }
    let root = root_message(err);
    if err.is_tls() || find::<rustls::Error>(err).is_some() {
        return SendError::new(
            ErrorKind::Tls,
            format!("TLS with the mail server {server} failed: {root}"),
        );
    }
    if err.is_client() {
        if root.contains("STARTTLS") {
            return SendError::new(
                ErrorKind::Tls,
                format!("the mail server {server} does not offer STARTTLS (choose another security setting)"),
            );
        }
        return SendError::invalid(format!("the mail server {server} cannot be used: {root}"));
    }
    if let Some(io) = find::<std::io::Error>(err) {
        if io.kind() == std::io::ErrorKind::ConnectionRefused {
            return SendError::new(ErrorKind::Connect, format!("connection refused by {server}"));
        }
    }
    if err.is_response() {
        return SendError::new(
            ErrorKind::Other,
            format!("the mail server {server} sent an answer that is not SMTP: {root}"),
        );
    }
    SendError::new(
        ErrorKind::Connect,
        format!("the connection to the mail server {server} failed: {root}"),
    )
}

fn mailbox(field: &str, text: &str) -> Result<Mailbox, SendError> {
    text.trim().parse::<Mailbox>().map_err(|_| {
        SendError::invalid(format!(
            "`{text}` in `{field}` is not an email address (write `name@example.com` or `Name <name@example.com>`)"
        ))
    })
}

/// The message and its Message-ID.
fn build_message(email: &Email) -> Result<(Message, String), SendError> {
    let from = mailbox("from", &email.from)?;
    if email.to.is_empty() && email.cc.is_empty() && email.bcc.is_empty() {
        return Err(SendError::invalid("the email has no recipient (`to`, `cc` or `bcc`)"));
    }
    let mut random = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut random);
    let message_id = format!("<{}@{}>", hex::encode(random), from.email.domain());
    let subject = email.subject.replace("\r\n", " ").replace(['\r', '\n'], " ");
    let mut builder = Message::builder()
        .from(from)
        .subject(subject)
        .message_id(Some(message_id.clone()));
    for to in &email.to {
        builder = builder.to(mailbox("to", to)?);
    }
    for cc in &email.cc {
        builder = builder.cc(mailbox("cc", cc)?);
    }
    for bcc in &email.bcc {
        builder = builder.bcc(mailbox("bcc", bcc)?);
    }
    if let Some(reply_to) = &email.reply_to {
        builder = builder.reply_to(mailbox("reply_to", reply_to)?);
    }
    for (name, value) in &email.headers {
        let name = name.trim();
        if RESERVED_HEADERS.iter().any(|r| r.eq_ignore_ascii_case(name)) {
            return Err(SendError::invalid(format!(
                "the header `{name}` is set from the email's own fields"
            )));
        }
        if value.contains(['\r', '\n']) {
            return Err(SendError::invalid(format!(
                "the value of header `{name}` has a line break"
            )));
        }
        let header_name = HeaderName::new_from_ascii(name.to_owned())
            .map_err(|_| SendError::invalid(format!("`{name}` is not a valid header name")))?;
        builder = builder.raw_header(HeaderValue::new(header_name, value.clone()));
    }
    let message = match (&email.text, &email.html) {
        (Some(text), Some(html)) => builder.multipart(MultiPart::alternative_plain_html(text.clone(), html.clone())),
        (None, Some(html)) => builder.singlepart(SinglePart::html(html.clone())),
        (text, None) => builder.singlepart(
            SinglePart::builder()
                .header(ContentType::TEXT_PLAIN)
                .body(text.clone().unwrap_or_default()),
        ),
    }
    .map_err(|e| SendError::invalid(format!("the email cannot be built: {e}")))?;
    Ok((message, message_id))
}
