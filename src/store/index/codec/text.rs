//! Strings with a binary form that prints back as exactly the same text:
//! lowercase hyphenated UUIDs, and UTC timestamps as Kubernetes and jiff
//! write them (`2026-01-02T03:04:05.678Z`).

/// The bytes of a lowercase hyphenated UUID.
pub fn uuid(s: &str) -> Option<[u8; 16]> {
    let b = s.as_bytes();
    if b.len() != 36 || [8, 13, 18, 23].iter().any(|&i| b[i] != b'-') {
        return None;
    }
    let mut out = [0u8; 16];
    let mut digits = b.iter().filter(|&&c| c != b'-');
    for byte in &mut out {
        let hi = hex_value(*digits.next()?)?;
        let lo = hex_value(*digits.next()?)?;
        *byte = hi << 4 | lo;
    }
    Some(out)
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

pub fn uuid_text(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(36);
    for (i, b) in bytes.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            out.push('-');
        }
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 15)]));
    }
    out
}

/// A timestamp as kept: seconds since the epoch, nanoseconds, and how many
/// fraction digits the text had.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Time {
    pub seconds: i64,
    pub nanos: u32,
    pub digits: u8,
}

impl Time {
    /// `YYYY-MM-DDTHH:MM:SS[.fraction]Z` that [`Time::text`] gives back
    /// exactly (so no impossible dates, no leap seconds).
    pub fn parse(s: &str) -> Option<Time> {
        let b = s.as_bytes();
        if !(20..=30).contains(&b.len()) {
            return None;
        }
        let layout = [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':')];
        if layout.iter().any(|&(i, c)| b[i] != c) || b[b.len() - 1] != b'Z' {
            return None;
        }
        let number = |from: usize, to: usize| -> Option<i64> {
            b[from..to].iter().try_fold(0i64, |n, &c| {
                c.is_ascii_digit().then(|| n * 10 + i64::from(c - b'0'))
            })
        };
        let fraction = &b[19..b.len() - 1];
        let (nanos, digits) = match fraction {
            [] => (0, 0),
            [b'.', rest @ ..] if (1..=9).contains(&rest.len()) => {
                let n = number(20, 20 + rest.len())?;
                (n * 10i64.pow(9 - rest.len() as u32), rest.len() as u8)
            }
            _ => return None,
        };
        let days = days_from_civil(number(0, 4)?, number(5, 7)?, number(8, 10)?);
        let seconds =
            days * 86_400 + number(11, 13)? * 3600 + number(14, 16)? * 60 + number(17, 19)?;
        let time = Time {
            seconds,
            nanos: u32::try_from(nanos).ok()?,
            digits,
        };
        (time.text() == s).then_some(time)
    }

    pub fn text(&self) -> String {
        let days = self.seconds.div_euclid(86_400);
        let secs = self.seconds.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        let mut out = String::with_capacity(21 + usize::from(self.digits));
        digits(&mut out, year, 4);
        out.push('-');
        digits(&mut out, month, 2);
        out.push('-');
        digits(&mut out, day, 2);
        out.push('T');
        digits(&mut out, secs / 3600, 2);
        out.push(':');
        digits(&mut out, secs / 60 % 60, 2);
        out.push(':');
        digits(&mut out, secs % 60, 2);
        if self.digits > 0 {
            out.push('.');
            let shown = self.nanos / 10u32.pow(9 - u32::from(self.digits).min(9));
            digits(&mut out, i64::from(shown), u32::from(self.digits));
        }
        out.push('Z');
        out
    }

    pub fn timestamp(&self) -> Option<jiff::Timestamp> {
        jiff::Timestamp::new(self.seconds, i32::try_from(self.nanos).ok()?).ok()
    }
}

/// `n` in `width` decimal digits (the lowest ones).
fn digits(out: &mut String, n: i64, width: u32) {
    for p in (0..width).rev() {
        let digit = n.unsigned_abs() / 10u64.pow(p) % 10;
        out.push(char::from(b'0' + digit as u8));
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
/// algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year - era * 400;
    let doy = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}
