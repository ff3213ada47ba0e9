//! Just enough of the MySQL client protocol for hakit to talk to ProxySQL's admin
//! interface: log in with `mysql_native_password` (also after an auth switch), run text
//! queries one at a time, read result sets with their column names. No TLS, no prepared
//! statements, no compression; loopback only. Packet writer and reader live together.

use anyhow::{bail, Context};
use sha1::{Digest, Sha1};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

const CLIENT_LONG_PASSWORD: u32 = 0x1;
const CLIENT_PROTOCOL_41: u32 = 0x200;
const CLIENT_TRANSACTIONS: u32 = 0x2000;
const CLIENT_SECURE_CONNECTION: u32 = 0x8000;
const CLIENT_PLUGIN_AUTH: u32 = 0x80000;
const NATIVE: &str = "mysql_native_password";
/// utf8mb4_general_ci.
const CHARSET: u8 = 45;
const MAX_PACKET: u32 = 16 * 1024 * 1024;

/// One query's answer: column names and rows (`None` for SQL NULL); both empty for a
/// statement that returns no result set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryResult {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Option<String>>>,
}

pub struct Conn {
    stream: TcpStream,
    seq: u8,
}

impl Conn {
    /// Connect to `addr` and log in as `user`, every read and write bounded by `timeout`.
    pub fn connect(
        addr: SocketAddr,
        user: &str,
        password: &str,
        timeout: Duration,
    ) -> anyhow::Result<Conn> {
        let stream = TcpStream::connect_timeout(&addr, timeout)
            .with_context(|| format!("connecting to {addr}"))?;
        stream.set_read_timeout(Some(timeout))?;
        stream.set_write_timeout(Some(timeout))?;
        let mut conn = Conn { stream, seq: 0 };
        let greeting = conn
            .read_packet()
            .context("reading the server's greeting")?;
        if greeting.first() == Some(&0xff) {
            bail!(
                "{addr} refused the connection: {}",
                error_message(&greeting)
            );
        }
        let (scramble, plugin) = parse_greeting(&greeting)?;
        let auth = if plugin == NATIVE || plugin.is_empty() {
            native_password(password, &scramble)
        } else {
            // Answered with an auth switch to mysql_native_password below, if the server
            // offers it.
            vec![]
        };
        let response = handshake_response(user, &auth);
        conn.write_packet(&response)?;
        let mut reply = conn.read_packet().context("reading the login reply")?;
        if reply.first() == Some(&0xfe) {
            // AuthSwitchRequest: plugin name, NUL, new scramble (NUL-terminated).
            let rest = &reply[1..];
            let nul = rest.iter().position(|b| *b == 0).unwrap_or(rest.len());
            let plugin = String::from_utf8_lossy(&rest[..nul]).into_owned();
            if plugin != NATIVE {
                bail!("{addr} asks for the {plugin} login method; hakit speaks only {NATIVE}");
            }
            let data = rest.get(nul + 1..).unwrap_or_default();
            let salt = data.strip_suffix(&[0]).unwrap_or(data);
            conn.write_packet(&native_password(password, salt))?;
            reply = conn.read_packet().context("reading the login reply")?;
        }
        match reply.first() {
            Some(0x00) => Ok(conn),
            Some(0xff) => bail!("logging in to {addr} as {user}: {}", error_message(&reply)),
            _ => bail!("logging in to {addr} as {user}: unexpected reply"),
        }
    }

    /// Run one statement (COM_QUERY).
    pub fn query(&mut self, sql: &str) -> anyhow::Result<QueryResult> {
        self.seq = 0;
        let mut payload = Vec::with_capacity(sql.len() + 1);
        payload.push(0x03);
        payload.extend_from_slice(sql.as_bytes());
        self.write_packet(&payload)?;
        let first = self.read_packet()?;
        match first.first() {
            Some(0x00) => return Ok(QueryResult::default()),
            Some(0xff) => bail!("{}", error_message(&first)),
            _ => {}
        }
        let (count, _) = lenenc_int(&first).context("a result set's column count")?;
        let mut columns = Vec::new();
        for _ in 0..count {
            let def = self.read_packet()?;
            columns.push(column_name(&def).context("a column definition")?);
        }
        let eof = self.read_packet()?;
        if !is_eof(&eof) {
            bail!("a result set without the end of its column definitions");
        }
        let mut rows = Vec::new();
        loop {
            let packet = self.read_packet()?;
            if is_eof(&packet) {
                break;
            }
            if packet.first() == Some(&0xff) {
                bail!("{}", error_message(&packet));
            }
            rows.push(parse_row(&packet, columns.len())?);
        }
        Ok(QueryResult { columns, rows })
    }

    fn read_packet(&mut self) -> anyhow::Result<Vec<u8>> {
        let mut header = [0u8; 4];
        self.stream
            .read_exact(&mut header)
            .context("the server closed the connection or did not answer in time")?;
        let len = u32::from_le_bytes([header[0], header[1], header[2], 0]) as usize;
        self.seq = header[3].wrapping_add(1);
        let mut payload = vec![0u8; len];
        self.stream.read_exact(&mut payload)?;
        Ok(payload)
    }

    fn write_packet(&mut self, payload: &[u8]) -> anyhow::Result<()> {
        self.stream.write_all(&frame(payload, self.seq))?;
        self.seq = self.seq.wrapping_add(1);
        Ok(())
    }
}

/// A packet: 3-byte little-endian length, sequence number, payload.
fn frame(payload: &[u8], seq: u8) -> Vec<u8> {
    let len = (payload.len() as u32).to_le_bytes();
    let mut out = Vec::with_capacity(payload.len() + 4);
    out.extend_from_slice(&[len[0], len[1], len[2], seq]);
    out.extend_from_slice(payload);
    out
}

/// The scramble (20 bytes) and auth plugin name from a protocol-10 greeting.
fn parse_greeting(p: &[u8]) -> anyhow::Result<(Vec<u8>, String)> {
    if p.first() != Some(&10) {
        bail!("not a MySQL protocol 10 server");
    }
    let version_end = 1 + p[1..]
        .iter()
        .position(|b| *b == 0)
        .context("a greeting without a server version")?;
    let mut at = version_end + 1 + 4; // NUL, connection id
    let part1 = p.get(at..at + 8).context("a short greeting")?.to_vec();
    at += 8 + 1; // filler
    let caps_low = u16::from_le_bytes([p[at], p[at + 1]]);
    at += 2 + 1 + 2; // capabilities (low), charset, status
    let caps_high = u16::from_le_bytes([p[at], p[at + 1]]);
    at += 2;
    let caps = u32::from(caps_low) | (u32::from(caps_high) << 16);
    let data_len = usize::from(p[at]);
    at += 1 + 10; // auth data length, reserved
    let mut scramble = part1;
    if caps & CLIENT_SECURE_CONNECTION != 0 {
        let n = data_len.saturating_sub(8).max(13);
        let part2 = p.get(at..at + n).context("a short greeting")?;
        scramble.extend_from_slice(part2.strip_suffix(&[0]).unwrap_or(part2));
        at += n;
    }
    let plugin = if caps & CLIENT_PLUGIN_AUTH != 0 {
        let rest = p.get(at..).unwrap_or_default();
        let end = rest.iter().position(|b| *b == 0).unwrap_or(rest.len());
        String::from_utf8_lossy(&rest[..end]).into_owned()
    } else {
        String::new()
    };
    scramble.truncate(20);
    Ok((scramble, plugin))
}

/// HandshakeResponse41 for `user` with `auth` (mysql_native_password).
fn handshake_response(user: &str, auth: &[u8]) -> Vec<u8> {
    let caps = CLIENT_LONG_PASSWORD
        | CLIENT_PROTOCOL_41
        | CLIENT_TRANSACTIONS
        | CLIENT_SECURE_CONNECTION
        | CLIENT_PLUGIN_AUTH;
    let mut out = Vec::new();
    out.extend_from_slice(&caps.to_le_bytes());
    out.extend_from_slice(&MAX_PACKET.to_le_bytes());
    out.push(CHARSET);
    out.extend_from_slice(&[0u8; 23]);
    out.extend_from_slice(user.as_bytes());
    out.push(0);
    out.push(auth.len() as u8);
    out.extend_from_slice(auth);
    out.extend_from_slice(NATIVE.as_bytes());
    out.push(0);
    out
}

/// SHA1(password) XOR SHA1(scramble + SHA1(SHA1(password))); empty for no password.
fn native_password(password: &str, scramble: &[u8]) -> Vec<u8> {
    if password.is_empty() {
        return vec![];
    }
    let stage1 = Sha1::digest(password.as_bytes());
    let stage2 = Sha1::digest(stage1);
    let mut hasher = Sha1::new();
    hasher.update(scramble);
    hasher.update(stage2);
    let mix = hasher.finalize();
    stage1.iter().zip(mix.iter()).map(|(a, b)| a ^ b).collect()
}

/// A length-encoded integer at the start of `p`, and how many bytes it took.
fn lenenc_int(p: &[u8]) -> Option<(u64, usize)> {
    let le = |n: usize| -> Option<u64> {
        let bytes = p.get(1..1 + n)?;
        Some(
            bytes
                .iter()
                .rev()
                .fold(0u64, |acc, b| (acc << 8) | u64::from(*b)),
        )
    };
    match *p.first()? {
        b @ 0..=0xfa => Some((u64::from(b), 1)),
        0xfc => Some((le(2)?, 3)),
        0xfd => Some((le(3)?, 4)),
        0xfe => Some((le(8)?, 9)),
        _ => None,
    }
}

/// A length-encoded string at `p[at..]`: its bytes and where the next field starts.
fn lenenc_str(p: &[u8], at: usize) -> Option<(&[u8], usize)> {
    let (len, n) = lenenc_int(p.get(at..)?)?;
    let start = at + n;
    let end = start.checked_add(usize::try_from(len).ok()?)?;
    Some((p.get(start..end)?, end))
}

/// Column definition 41: catalog, schema, table, org_table, name, ...: the name.
fn column_name(p: &[u8]) -> Option<String> {
    let mut at = 0;
    for _ in 0..4 {
        at = lenenc_str(p, at)?.1;
    }
    let (name, _) = lenenc_str(p, at)?;
    Some(String::from_utf8_lossy(name).into_owned())
}

fn parse_row(p: &[u8], columns: usize) -> anyhow::Result<Vec<Option<String>>> {
    let mut at = 0;
    let mut row = Vec::with_capacity(columns);
    for _ in 0..columns {
        if p.get(at) == Some(&0xfb) {
            row.push(None);
            at += 1;
            continue;
        }
        let (value, next) = lenenc_str(p, at).context("a malformed row")?;
        row.push(Some(String::from_utf8_lossy(value).into_owned()));
        at = next;
    }
    Ok(row)
}

fn is_eof(p: &[u8]) -> bool {
    p.first() == Some(&0xfe) && p.len() < 9
}

/// "1045 (28000): Access denied ..." from an ERR packet.
fn error_message(p: &[u8]) -> String {
    let code = p
        .get(1..3)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .unwrap_or(0);
    let (state, message) = match p.get(3) {
        Some(b'#') => (
            String::from_utf8_lossy(p.get(4..9).unwrap_or_default()).into_owned(),
            p.get(9..).unwrap_or_default(),
        ),
        _ => (String::new(), p.get(3..).unwrap_or_default()),
    };
    format!("{code} ({state}): {}", String::from_utf8_lossy(message))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_native_password_answer_matches_the_reference() {
        // Computed independently: SHA1(pw) XOR SHA1(salt + SHA1(SHA1(pw))).
        let salt: Vec<u8> = (1..=20).collect();
        let hex: String = native_password("TESTadminPW", &salt)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(hex, "636012924f8645b0b58d228f786fa9c167eed3eb");
        assert!(native_password("", &salt).is_empty());
    }

    #[test]
    fn length_encoded_values_and_rows_read_back() {
        assert_eq!(lenenc_int(&[0x05]), Some((5, 1)));
        assert_eq!(lenenc_int(&[0xfc, 0x34, 0x12]), Some((0x1234, 3)));
        assert_eq!(lenenc_int(&[0xfd, 1, 2, 3]), Some((0x030201, 4)));
        assert_eq!(lenenc_int(&[0xfc, 1]), None);
        let row = [&[3u8][..], b"abc", &[0xfb], &[0], &[2], b"42"].concat();
        assert_eq!(
            parse_row(&row, 4).expect("row"),
            vec![
                Some("abc".into()),
                None,
                Some(String::new()),
                Some("42".into())
            ]
        );
        assert!(parse_row(&[5, b'a'], 1).is_err());
    }

    #[test]
    fn a_greeting_gives_its_scramble_and_plugin_and_frames_carry_their_sequence() {
        let mut g = vec![10];
        g.extend_from_slice(b"5.5.30\0");
        g.extend_from_slice(&7u32.to_le_bytes());
        g.extend_from_slice(b"abcdefgh");
        g.push(0);
        let caps = CLIENT_PROTOCOL_41 | CLIENT_SECURE_CONNECTION | CLIENT_PLUGIN_AUTH;
        g.extend_from_slice(&(caps as u16).to_le_bytes());
        g.push(33);
        g.extend_from_slice(&2u16.to_le_bytes());
        g.extend_from_slice(&((caps >> 16) as u16).to_le_bytes());
        g.push(21);
        g.extend_from_slice(&[0; 10]);
        g.extend_from_slice(b"ijklmnopqrst\0");
        g.extend_from_slice(b"mysql_native_password\0");
        let (scramble, plugin) = parse_greeting(&g).expect("greeting");
        assert_eq!(scramble, b"abcdefghijklmnopqrst");
        assert_eq!(plugin, NATIVE);
        assert!(parse_greeting(&[9, 0]).is_err());
        assert_eq!(frame(b"xy", 3), vec![2, 0, 0, 3, b'x', b'y']);
        assert_eq!(
            error_message(&[0xff, 0x15, 0x04, b'#', b'2', b'8', b'0', b'0', b'0', b'n', b'o']),
            "1045 (28000): no"
        );
    }
}
