//! The small DNS client that the propagation check and the RFC 2136 provider share:
//! hickory-proto builds and parses the messages, tokio carries them (UDP, TCP when truncated).
//! Also what both read from answers: TXT values, and the SOA walk that finds the zone of a name.
//! Names are handled as hickory [`Name`]s and given back lower-case without the trailing dot.

use std::fmt;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use hickory_proto::op::{Edns, Header, Message, MessageType, Query, ResponseCode};
use hickory_proto::rr::rdata::TXT;
use hickory_proto::rr::{Name, RData, Record, RecordType};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

use crate::error::DnsError;

/// Advertised EDNS(0) UDP payload size (RFC 6891 §6.2.5; 1232 avoids IP fragmentation).
const EDNS_PAYLOAD: u16 = 1232;

/// One query to one server; `recursion` sets RD (RFC 1035 §4.1.1).
pub(crate) async fn query(
    server: SocketAddr,
    name: &Name,
    rtype: RecordType,
    recursion: bool,
    timeout: Duration,
    attempts: u32,
) -> Result<Message, ExchangeError> {
    let mut request = Message::query();
    request.metadata.recursion_desired = recursion;
    request.add_query(Query::query(name.clone(), rtype));
    let mut edns = Edns::new();
    edns.set_max_payload(EDNS_PAYLOAD);
    request.set_edns(edns);
    let bytes = request
        .to_vec()
        .map_err(|e| ExchangeError::Malformed(format!("cannot encode the query: {e}")))?;
    let answer = exchange(server, &bytes, timeout, attempts).await?;
    let response = Message::from_vec(&answer)
        .map_err(|e| ExchangeError::Malformed(format!("undecodable answer: {e}")))?;
    if !response.queries.is_empty()
        && !response
            .queries
            .iter()
            .any(|q| q.name().eq_ignore_root_case(name) && q.query_type() == rtype)
    {
        return Err(ExchangeError::Malformed(
            "the answer is for another question".into(),
        ));
    }
    Ok(response)
}

/// Why a DNS exchange got no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ExchangeError {
    /// Nothing could be sent: no route, no address family (a local condition).
    Unreachable(String),
    /// No answer within the timeout, after every attempt.
    Timeout(Duration, u32),
    /// The server refused the connection or the socket failed.
    Io(String),
    /// An answer came that cannot be used.
    Malformed(String),
}

impl fmt::Display for ExchangeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExchangeError::Unreachable(why) => write!(f, "cannot send: {why}"),
            ExchangeError::Timeout(each, attempts) => {
                write!(f, "no answer within {each:?} ({attempts} attempt(s))")
            }
            ExchangeError::Io(why) => f.write_str(why),
            ExchangeError::Malformed(why) => f.write_str(why),
        }
    }
}

/// Sends one encoded message to `server` and returns the encoded answer with the same ID.
///
/// UDP first, retransmitted up to `attempts` times after `timeout` each (RFC 1035 §4.2.1); an
/// answer with TC set is asked again over TCP (RFC 7766 §5). Datagrams that do not answer this
/// message (other ID, not a response) are ignored; the socket is connected, so only `server`
/// can answer, and a port with nothing behind it fails at once (ICMP port unreachable).
pub(crate) async fn exchange(
    server: SocketAddr,
    request: &[u8],
    timeout: Duration,
    attempts: u32,
) -> Result<Vec<u8>, ExchangeError> {
    let id = header_of(request)
        .map_err(ExchangeError::Malformed)?
        .metadata
        .id;
    let local: SocketAddr = match server {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let socket = UdpSocket::bind(local)
        .await
        .map_err(|e| ExchangeError::Unreachable(format!("no {} socket: {e}", family(server))))?;
    socket
        .connect(server)
        .await
        .map_err(|e| ExchangeError::Unreachable(e.to_string()))?;

    let attempts = attempts.max(1);
    let mut buf = vec![0u8; 65535];
    for _ in 0..attempts {
        socket.send(request).await.map_err(|e| match e.kind() {
            io::ErrorKind::ConnectionRefused => ExchangeError::Io(format!("{server}: {e}")),
            _ => ExchangeError::Unreachable(e.to_string()),
        })?;
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let received = tokio::time::timeout_at(deadline, socket.recv(&mut buf)).await;
            let len = match received {
                Err(_elapsed) => break,
                Ok(Ok(len)) => len,
                Ok(Err(e)) => return Err(ExchangeError::Io(format!("{server}: {e}"))),
            };
            let answer = &buf[..len];
            let Ok(header) = header_of(answer) else {
                continue;
            };
            if header.metadata.id != id || header.metadata.message_type != MessageType::Response {
                continue;
            }
            if header.metadata.truncation {
                return exchange_tcp(server, request, timeout).await;
            }
            return Ok(answer.to_vec());
        }
    }
    Err(ExchangeError::Timeout(timeout, attempts))
}

/// The same exchange over TCP, two-byte length prefix (RFC 1035 §4.2.2).
async fn exchange_tcp(
    server: SocketAddr,
    request: &[u8],
    timeout: Duration,
) -> Result<Vec<u8>, ExchangeError> {
    let len = u16::try_from(request.len())
        .map_err(|_| ExchangeError::Malformed("message longer than 65535 bytes".into()))?;
    let io = async {
        let mut stream = TcpStream::connect(server).await?;
        let mut framed = Vec::with_capacity(request.len() + 2);
        framed.extend_from_slice(&len.to_be_bytes());
        framed.extend_from_slice(request);
        stream.write_all(&framed).await?;
        let answer_len = stream.read_u16().await?;
        let mut answer = vec![0u8; usize::from(answer_len)];
        stream.read_exact(&mut answer).await?;
        Ok::<_, io::Error>(answer)
    };
    match tokio::time::timeout(timeout, io).await {
        Err(_elapsed) => Err(ExchangeError::Timeout(timeout, 1)),
        Ok(Err(e)) => Err(ExchangeError::Io(format!("{server} (TCP): {e}"))),
        Ok(Ok(answer)) => Ok(answer),
    }
}

fn header_of(message: &[u8]) -> Result<Header, String> {
    Header::read(&mut BinDecoder::new(message)).map_err(|e| format!("bad DNS header: {e}"))
}

fn family(addr: SocketAddr) -> &'static str {
    if addr.is_ipv4() { "IPv4" } else { "IPv6" }
}

/// The TXT values at `name` in a response's answer section, each record's character-strings
/// joined (RFC 8555 §8.4: the digest is one string; long values may be split, RFC 7208 §3.3).
pub(crate) fn txt_values(response: &Message, name: &Name) -> Vec<String> {
    response
        .answers
        .iter()
        .filter(|r| r.name.eq_ignore_root_case(name))
        .filter_map(|r| match &r.data {
            RData::TXT(txt) => Some(
                txt.txt_data
                    .iter()
                    .map(|s| String::from_utf8_lossy(s).into_owned())
                    .collect::<String>(),
            ),
            _ => None,
        })
        .collect()
}

/// The TXT rdata carrying `value`, split into character-strings of at most 255 bytes (RFC 1035
/// §3.3.14).
pub(crate) fn txt_rdata(value: &str) -> RData {
    RData::TXT(TXT::from_bytes(value.as_bytes().chunks(255).collect()))
}

/// Walks from `name` up to the root asking `ask` for the SOA of each candidate; returns the
/// first zone found (see [`soa_zone`]), `None` when no level names one. A transport failure
/// ends the walk: asking the parent would fail the same way.
pub(crate) async fn soa_walk<F, Fut>(name: &Name, mut ask: F) -> Result<Option<Name>, DnsError>
where
    F: FnMut(Name) -> Fut,
    Fut: Future<Output = Result<Message, DnsError>>,
{
    let mut candidate = name.clone();
    loop {
        let response = ask(candidate.clone()).await?;
        if let Some(zone) = soa_zone(&response, &candidate) {
            return Ok(Some(zone));
        }
        if candidate.is_root() {
            return Ok(None);
        }
        candidate = candidate.base_name();
    }
}

/// The zone a response to an SOA query for `name` reveals: an SOA in the answer owned by `name`
/// (it is an apex), or an SOA in the authority section of a NOERROR/NXDOMAIN answer (RFC 2308
/// §3) owned by an ancestor of `name`. Anything else (REFUSED from a server that is not
/// authoritative, an SOA of a CNAME target's zone) reveals nothing.
pub(crate) fn soa_zone(response: &Message, name: &Name) -> Option<Name> {
    let rcode = response.metadata.response_code;
    if rcode != ResponseCode::NoError && rcode != ResponseCode::NXDomain {
        return None;
    }
    let is_soa = |r: &&Record| matches!(r.data, RData::SOA(_));
    if let Some(soa) = response
        .answers
        .iter()
        .filter(is_soa)
        .find(|r| r.name.eq_ignore_root_case(name))
    {
        return Some(fqdn_name(soa.name.to_lowercase()));
    }
    response
        .authorities
        .iter()
        .filter(is_soa)
        .find(|r| r.name.zone_of(name))
        .map(|r| fqdn_name(r.name.to_lowercase()))
}

/// A name from configuration or a caller: ASCII (A-labels) or UTF-8, made fully qualified.
pub(crate) fn parse_name(text: &str) -> Result<Name, DnsError> {
    let trimmed = text.trim();
    Name::from_ascii(trimmed)
        .or_else(|_| Name::from_utf8(trimmed))
        .map(|n| fqdn_name(n.to_lowercase()))
        .map_err(|e| DnsError::Rejected(format!("invalid DNS name {text:?}: {e}")))
}

pub(crate) fn fqdn_name(mut name: Name) -> Name {
    name.set_fqdn(true);
    name
}

/// Lower-case, without the trailing dot, as the [`crate::DnsProvider`] contract spells names.
pub(crate) fn name_text(name: &Name) -> String {
    let text = name.to_lowercase().to_ascii();
    match text.strip_suffix('.') {
        Some(stripped) if !stripped.is_empty() => stripped.to_owned(),
        _ => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_lower_case_without_trailing_dot() {
        let name = parse_name("_acme-challenge.WWW.Example.test.").unwrap();
        assert!(name.is_fqdn());
        assert_eq!(name_text(&name), "_acme-challenge.www.example.test");
        assert_eq!(name_text(&Name::root()), ".");
    }

    #[test]
    fn long_txt_values_are_split_into_strings() {
        let value = "x".repeat(300);
        let RData::TXT(txt) = txt_rdata(&value) else {
            panic!("not TXT");
        };
        assert_eq!(txt.txt_data.len(), 2);
        assert_eq!(txt.txt_data[0].len(), 255);
    }
}
