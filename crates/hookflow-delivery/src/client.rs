//! The HTTP client: guarded resolution, manual redirects, one deadline, a
//! bounded body.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::header::{self, HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, StatusCode, Url};

use crate::error::{find, root_message, ErrorKind, SendError};
use crate::guard::{Guard, Refused};

/// The most redirects one request follows.
pub const MAX_REDIRECTS: usize = 10;

/// The largest response body read, in bytes (10 MiB).
pub const MAX_RESPONSE_BODY: usize = 10 * 1024 * 1024;

/// Makes every outbound connection: HTTP requests ([`Client::send`]) and
/// emails ([`Client::send_email`]). Build one per process and clone it: clones
/// share the connection pool.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    pub(crate) guard: Guard,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("guard", &self.guard)
            .finish_non_exhaustive()
    }
}

/// One HTTP request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// `GET`, `POST`, ... (case-insensitive, sent in upper case).
    pub method: String,
    /// An absolute `http` or `https` URL.
    pub url: String,
    /// Sent as given, repeated names too. A `User-Agent` here replaces the client's.
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
    /// For the whole request: resolution, connection, every redirect and the body.
    pub timeout: Duration,
    /// Follow `301`, `302`, `303`, `307` and `308` (at most [`MAX_REDIRECTS`]);
    /// otherwise a redirect is returned as the response.
    pub follow_redirects: bool,
}

impl Request {
    /// A `GET` of `url` with a 10 second timeout, not following redirects.
    pub fn get(url: impl Into<String>) -> Self {
        Self::new("GET", url)
    }

    /// A `method` request to `url` with a 10 second timeout, not following redirects.
    pub fn new(method: impl Into<String>, url: impl Into<String>) -> Self {
        Self {
            method: method.into(),
            url: url.into(),
            headers: Vec::new(),
            body: None,
            timeout: Duration::from_secs(10),
            follow_redirects: false,
        }
    }
}

/// The peer's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    /// In the order received, names in lower case; a value that is not UTF-8
    /// is decoded lossily.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// From the start of [`Client::send`] to the last byte of the body,
    /// redirects included.
    pub latency_ms: u64,
    /// The URL that answered, after redirects.
    pub url: String,
}

impl Response {
    /// The first value of the header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// "503 Service Unavailable", or "599" for a code without a name.
    pub fn status_line(&self) -> String {
        status_line(self.status)
    }
}

pub(crate) fn status_line(status: u16) -> String {
    match StatusCode::from_u16(status).ok().and_then(|s| s.canonical_reason()) {
        Some(reason) => format!("{status} {reason}"),
        None => status.to_string(),
    }
}

impl Client {
    /// A client whose every connection passes `guard`, sending `user_agent`
    /// unless a request names its own. It never uses a proxy from the
    /// environment (the guard must see the real peer).
    ///
    /// Panics if the TLS backend cannot be set up, which is a broken build,
    /// not a runtime condition.
    pub fn new(guard: Guard, user_agent: &str) -> Self {
        let user_agent = HeaderValue::from_str(user_agent).unwrap_or(HeaderValue::from_static("hookflow"));
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(Arc::new(GuardedResolver { guard: guard.clone() }))
            .user_agent(user_agent)
            .build()
            .expect("invariant: reqwest builds a rustls client");
        Self { http, guard }
    }

    /// The guard every connection passes.
    pub fn guard(&self) -> &Guard {
        &self.guard
    }

    /// Sends `req` and reads the whole answer. Any status is a `Response`;
    /// `Err` means there is no answer (see [`ErrorKind`]).
    pub async fn send(&self, req: Request) -> Result<Response, SendError> {
        if req.timeout.is_zero() {
            return Err(SendError::invalid("the timeout must be longer than zero"));
        }
        let started = Instant::now();
        let timeout = req.timeout;
        match tokio::time::timeout(timeout, self.send_within(req, started)).await {
            Ok(result) => result,
            Err(_) => Err(SendError::timeout(timeout)),
        }
    }

    async fn send_within(&self, req: Request, started: Instant) -> Result<Response, SendError> {
        let mut method = Method::from_bytes(req.method.trim().to_ascii_uppercase().as_bytes())
            .map_err(|_| SendError::invalid(format!("`{}` is not an HTTP method", req.method)))?;
        let mut url = parse_url(&req.url)?;
        let mut headers = header_map(&req.headers)?;
        let mut body = req.body;
        let mut redirects = 0;
        loop {
            self.check_host(&url)?;
            let mut builder = self.http.request(method.clone(), url.clone()).headers(headers.clone());
            if let Some(body) = &body {
                builder = builder.body(body.clone());
            }
            let response = builder.send().await.map_err(|e| request_error(&e, &url))?;
            let status = response.status();
            if req.follow_redirects {
                if let Some(next) = redirect_target(status, response.headers(), &url)? {
                    if redirects == MAX_REDIRECTS {
                        return Err(SendError::new(
                            ErrorKind::TooManyRedirects,
                            format!("more than {MAX_REDIRECTS} redirects (the last one from {url} to {next})"),
                        ));
                    }
                    redirects += 1;
                    tracing::debug!(from = %url, to = %next, status = status.as_u16(), "Following a redirect.");
                    let to_get = status == StatusCode::SEE_OTHER && method != Method::HEAD
                        || matches!(status, StatusCode::MOVED_PERMANENTLY | StatusCode::FOUND)
                            && method == Method::POST;
                    if to_get {
                        method = Method::GET;
                        body = None;
                        for name in [
                            header::CONTENT_TYPE,
                            header::CONTENT_LENGTH,
                            header::CONTENT_ENCODING,
                            header::TRANSFER_ENCODING,
                        ] {
                            headers.remove(name);
                        }
                    }
                    if next.origin() != url.origin() {
                        for name in [header::AUTHORIZATION, header::COOKIE, header::PROXY_AUTHORIZATION] {
                            headers.remove(name);
                        }
                    }
                    url = next;
                    continue;
                }
            }
            let response_headers = response
                .headers()
                .iter()
                .map(|(name, value)| {
                    (
                        name.as_str().to_owned(),
                        String::from_utf8_lossy(value.as_bytes()).into_owned(),
                    )
                })
                .collect();
            let body = read_body(response, &url).await?;
            return Ok(Response {
                status: status.as_u16(),
                headers: response_headers,
                body,
                latency_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
                url: url.to_string(),
            });
        }
    }

    /// Refuses a URL whose host is an IP address the guard refuses; host
    /// names are checked by the resolver, after resolution.
    fn check_host(&self, url: &Url) -> Result<(), SendError> {
        let Some(host) = url.host_str() else {
            return Err(SendError::invalid(format!("`{url}` has no host")));
        };
        let Ok(ip) = host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>() else {
            return Ok(());
        };
        self.guard
            .check(ip)
            .map_err(|refused| SendError::new(ErrorKind::Refused, refused.to_string()))
    }
}

fn parse_url(text: &str) -> Result<Url, SendError> {
    let url = Url::parse(text.trim()).map_err(|e| SendError::invalid(format!("`{text}` is not a URL: {e}")))?;
    check_scheme(&url)?;
    Ok(url)
}

fn check_scheme(url: &Url) -> Result<(), SendError> {
    match url.scheme() {
        "http" | "https" if url.host().is_some() => Ok(()),
        "http" | "https" => Err(SendError::invalid(format!("`{url}` has no host"))),
        other => Err(SendError::invalid(format!(
            "`{url}` is not an http or https URL (its scheme is `{other}`)"
        ))),
    }
}

/// The request's headers, refusing the ones no configuration may set (checked again here, since
/// not every request comes from a checked configuration).
fn header_map(headers: &[(String, String)]) -> Result<HeaderMap, SendError> {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        crate::check::check_header_name(name.trim()).map_err(SendError::invalid)?;
        let header_name = HeaderName::from_bytes(name.trim().as_bytes())
            .map_err(|_| SendError::invalid(format!("`{name}` is not a valid header name")))?;
        let header_value = HeaderValue::from_str(value)
            .map_err(|_| SendError::invalid(format!("the value of header `{name}` is not a valid header value")))?;
        map.append(header_name, header_value);
    }
    Ok(map)
}

/// Where a followable redirect points, resolved against `current`; `None`
/// when `status` is not one or it has no usable `Location`.
fn redirect_target(status: StatusCode, headers: &HeaderMap, current: &Url) -> Result<Option<Url>, SendError> {
    if !matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308) {
        return Ok(None);
    }
    let Some(location) = headers.get(header::LOCATION).and_then(|v| v.to_str().ok()) else {
        return Ok(None);
    };
    let Ok(next) = current.join(location.trim()) else {
        return Ok(None);
    };
    match next.scheme() {
        "http" | "https" => Ok(Some(next)),
        other => Err(SendError::invalid(format!(
            "{current} redirected to `{next}`, which is not http or https (its scheme is `{other}`)"
        ))),
    }
}

async fn read_body(mut response: reqwest::Response, url: &Url) -> Result<Vec<u8>, SendError> {
    let too_large = |status: StatusCode| {
        SendError::new(
            ErrorKind::BodyTooLarge,
            format!(
                "the body of the {} response from {} is larger than {} MiB",
                status_line(status.as_u16()),
                peer(url),
                MAX_RESPONSE_BODY / (1024 * 1024)
            ),
        )
    };
    let status = response.status();
    if response.content_length().is_some_and(|n| n > MAX_RESPONSE_BODY as u64) {
        return Err(too_large(status));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| request_error(&e, url))? {
        if body.len() + chunk.len() > MAX_RESPONSE_BODY {
            return Err(too_large(status));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// `host:port` of a URL: `127.0.0.1:4567`, `[::1]:80`, `example.com:443`.
fn peer(url: &Url) -> String {
    format!(
        "{}:{}",
        url.host_str().unwrap_or_default(),
        url.port_or_known_default().unwrap_or_default()
    )
}

fn request_error(err: &reqwest::Error, url: &Url) -> SendError {
    let peer = peer(url);
    if let Some(refused) = find::<Refused>(err) {
        return SendError::new(ErrorKind::Refused, refused.to_string());
    }
    if let Some(dns) = find::<DnsFailure>(err) {
        return SendError::new(ErrorKind::Dns, dns.to_string());
    }
    if let Some(tls) = find::<rustls::Error>(err) {
        return SendError::new(ErrorKind::Tls, format!("the TLS handshake with {peer} failed: {tls}"));
    }
    if let Some(io) = find::<std::io::Error>(err) {
        match io.kind() {
            std::io::ErrorKind::ConnectionRefused => {
                return SendError::new(ErrorKind::Connect, format!("connection refused by {peer}"))
            }
            std::io::ErrorKind::TimedOut => {
                return SendError::new(ErrorKind::Connect, format!("connecting to {peer} timed out"))
            }
            _ => {}
        }
    }
    let root = root_message(err);
    if err.is_builder() {
        SendError::invalid(format!("the request to {url} cannot be made: {root}"))
    } else if err.is_connect() {
        SendError::new(ErrorKind::Connect, format!("could not connect to {peer}: {root}"))
    } else if err.is_body() || err.is_decode() {
        SendError::new(
            ErrorKind::Connect,
            format!("reading the response from {peer} failed: {root}"),
        )
    } else if err.is_request() {
        SendError::new(ErrorKind::Connect, format!("the request to {peer} failed: {root}"))
    } else {
        SendError::new(ErrorKind::Other, format!("the request to {peer} failed: {root}"))
    }
}

/// A name that did not resolve.
#[derive(Debug)]
pub(crate) struct DnsFailure {
    pub(crate) host: String,
    pub(crate) message: String,
}

impl fmt::Display for DnsFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "could not resolve {}: {}", self.host, self.message)
    }
}

impl std::error::Error for DnsFailure {}

/// Resolves `host` and keeps the addresses `guard` allows: the one way host
/// names become addresses, for HTTP and SMTP alike. `Err` is a [`Refused`]
/// (for the first address) when the guard refused them all.
pub(crate) async fn resolve(guard: &Guard, host: &str, port: u16) -> Result<Vec<SocketAddr>, ResolveError> {
    let found = tokio::net::lookup_host((host, port)).await.map_err(|e| {
        ResolveError::Dns(DnsFailure {
            host: host.to_owned(),
            message: e.to_string(),
        })
    })?;
    let mut allowed = Vec::new();
    let mut refused = None;
    for addr in found {
        match guard.check(addr.ip()) {
            Ok(()) => allowed.push(addr),
            Err(r) => {
                tracing::debug!(host, ip = %addr.ip(), "The guard dropped an address.");
                refused.get_or_insert(r.with_host(host));
            }
        }
    }
    match (allowed.is_empty(), refused) {
        (false, _) => Ok(allowed),
        (true, Some(refused)) => Err(ResolveError::Refused(refused)),
        (true, None) => Err(ResolveError::Dns(DnsFailure {
            host: host.to_owned(),
            message: "no addresses".to_owned(),
        })),
    }
}

#[derive(Debug)]
pub(crate) enum ResolveError {
    Dns(DnsFailure),
    Refused(Refused),
}

impl From<ResolveError> for SendError {
    fn from(err: ResolveError) -> Self {
        match err {
            ResolveError::Dns(e) => SendError::new(ErrorKind::Dns, e.to_string()),
            ResolveError::Refused(e) => SendError::new(ErrorKind::Refused, e.to_string()),
        }
    }
}

/// reqwest's resolver: [`resolve`], so every host name is checked after
/// resolution and a connection only ever goes to an allowed address.
struct GuardedResolver {
    guard: Guard,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let guard = self.guard.clone();
        Box::pin(async move {
            match resolve(&guard, name.as_str(), 0).await {
                Ok(addrs) => Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs),
                Err(ResolveError::Dns(e)) => Err(Box::new(e) as Box<dyn std::error::Error + Send + Sync>),
                Err(ResolveError::Refused(e)) => Err(Box::new(e) as Box<dyn std::error::Error + Send + Sync>),
            }
        })
    }
}
